import {Args} from '@oclif/core'
import {HnvCommand} from '../../lib/cli/base.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import type {Result} from '../../lib/cli/output.js'
import {PREFERENCE_KEYS, readPreferences} from '../../lib/cli/preferences.js'

export default class ConfigGet extends HnvCommand {
  static override summary = 'Show the CLI preferences (default output format and store); policy is never kept here'
  static override args = {key: Args.string({options: [...PREFERENCE_KEYS], description: 'Show only this preference'})}

  async execute(_flags: AnyFlags, args: AnyFlags): Promise<Result> {
    const preferences = readPreferences() as Record<string, string | undefined>
    const keys = args.key ? [args.key as string] : [...PREFERENCE_KEYS]
    return {rows: keys.map((key) => ({Name: key, Value: preferences[key] ?? null})), columns: ['Name', 'Value']}
  }
}

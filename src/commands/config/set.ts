import {Args} from '@oclif/core'
import {HnvCommand} from '../../lib/cli/base.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {PolicyError} from '../../lib/cli/errors.js'
import {OUTPUT_FORMATS} from '../../lib/cli/output.js'
import {PREFERENCE_KEYS, type PreferenceKey, writePreference} from '../../lib/cli/preferences.js'

export default class ConfigSet extends HnvCommand {
  static override summary = 'Set a CLI preference: output (table|list|json|csv) or store (a policy store path)'
  static override args = {
    key: Args.string({required: true, options: [...PREFERENCE_KEYS]}),
    value: Args.string({description: 'The value; leave it out to return to the default'}),
  }

  async execute(_flags: AnyFlags, args: AnyFlags): Promise<void> {
    if (args.key === 'output' && args.value !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(args.value)) {
      throw new PolicyError(`output '${args.value}' is not valid: use one of ${OUTPUT_FORMATS.join(', ')}`)
    }
    await writePreference(args.key as PreferenceKey, args.value)
  }
}

import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {writeNote} from '../../lib/cli/output.js'
import {readPreferences} from '../../lib/cli/preferences.js'
import {controlRequest} from '../../lib/control/client.js'
import {controlSocketPath} from '../../lib/control/protocol.js'
import {defaultStorePath} from '../../lib/policy/store.js'

export default class EngineStop extends PolicyCommand {
  static override summary = 'Stop the engine of the store: its TAPs are removed, wherever they were moved'
  static override flags = {
    socket: Flags.string({description: 'Control socket (default: the one of the store)'}),
  }

  async execute(flags: AnyFlags): Promise<void> {
    const store = resolve(flags.store ?? readPreferences().store ?? defaultStorePath())
    const answer = (await controlRequest(flags.socket ?? controlSocketPath(store), 'stop', {timeoutMs: 30_000, context: `for store ${store}`})) as {pid: number}
    writeNote(`engine stopped (pid ${answer.pid})`)
  }
}

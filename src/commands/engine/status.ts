import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {writeResult} from '../../lib/cli/output.js'
import {readPreferences} from '../../lib/cli/preferences.js'
import {renderStatus} from '../../lib/control/present.js'
import {controlRequest} from '../../lib/control/client.js'
import {controlSocketPath} from '../../lib/control/protocol.js'
import {defaultStorePath} from '../../lib/policy/store.js'
import type {RuntimeStatus} from '../../lib/control/protocol.js'

export default class EngineStatus extends PolicyCommand {
  static override summary = 'Show the running engine: revision applied, provider addresses, TAPs, counters per port, per VSID and per drop reason'
  static override flags = {
    socket: Flags.string({description: 'Control socket (default: the one of the store)'}),
  }

  async execute(flags: AnyFlags): Promise<void> {
    const store = resolve(flags.store ?? readPreferences().store ?? defaultStorePath())
    const status = (await controlRequest(flags.socket ?? controlSocketPath(store), 'status', {context: `for store ${store}`})) as RuntimeStatus
    writeResult(renderStatus(status, flags.json ? 'json' : flags.output ?? readPreferences().output ?? 'table'))
  }
}

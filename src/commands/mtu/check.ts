import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import type {Result} from '../../lib/cli/output.js'
import {MTU_CHECK_COLUMNS, mtuCheck, runningTapMtu} from '../../lib/engine/mtu-check.js'

export default class MtuCheck extends PolicyCommand {
  static override summary = "Work out the VM MTU for each pair of this host's provider addresses and the PAs the lookup records name, probe it with DF pings, and say what to change"
  static override description =
    'The VM MTU is the path MTU between the PAs minus the NVGRE overhead (42 bytes over IPv4, 62 over IPv6). ' +
    "The path MTU is probed with `ping -M do` from each local PA; TapMTU is the running engine's (or what hnv engine start would pick)."
  static override flags = {
    probe: Flags.boolean({default: true, allowNo: true, description: 'Probe the path with DF pings (--no-probe: take the link MTU)'}),
  }

  async execute(flags: AnyFlags): Promise<Result> {
    const store = this.service(flags).store
    const rows = await mtuCheck(store, {probe: flags.probe, tapMtu: await runningTapMtu(store.path)})
    return {rows: rows.map((row) => ({...row})), columns: MTU_CHECK_COLUMNS}
  }
}

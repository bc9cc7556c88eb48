import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import type {Result} from '../../lib/cli/output.js'

export default class GlobalGet extends PolicyCommand {
  static override summary = 'Show the global network virtualization settings (Get-NetVirtualizationGlobal)'
  static override aliases = ['Get-NetVirtualizationGlobal']

  async execute(flags: AnyFlags): Promise<Result> {
    return {rows: [this.service(flags).getGlobal()], columns: ['UseExternalRouter'], single: true}
  }
}

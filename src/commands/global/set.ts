import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {UsageError} from '../../lib/cli/errors.js'
import type {Result} from '../../lib/cli/output.js'

export default class GlobalSet extends PolicyCommand {
  static override summary = 'Change the global network virtualization settings (Set-NetVirtualizationGlobal)'
  static override aliases = ['Set-NetVirtualizationGlobal']
  static override flags = {
    'use-external-router': Flags.string({description: 'Route between virtual subnets through an external router ($true/$false)'}),
    'pass-thru': Flags.boolean({description: 'Print the settings after the change'}),
    'what-if': Flags.boolean({description: 'Show what would change and write nothing'}),
    confirm: Flags.boolean({hidden: true}),
  }
  static override psNames = {'use-external-router': 'UseExternalRouter'}

  async execute(flags: AnyFlags): Promise<Result | void> {
    if (flags['use-external-router'] === undefined) throw new UsageError('nothing to change: give -UseExternalRouter $true or $false')
    const settings = this.service(flags).setGlobal({UseExternalRouter: flags['use-external-router']}, flags['what-if'])
    if (flags['what-if']) return {rows: [{Operation: 'Set-NetVirtualizationGlobal', Target: `UseExternalRouter ${settings.UseExternalRouter}`}], columns: ['Operation', 'Target'], whatIf: true}
    if (flags['pass-thru']) return {rows: [settings], columns: ['UseExternalRouter'], single: true}
  }
}

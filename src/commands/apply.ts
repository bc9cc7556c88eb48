import {Flags} from '@oclif/core'
import {PolicyCommand} from '../lib/cli/policy-command.js'
import type {AnyFlags} from '../lib/cli/base.js'
import type {Result} from '../lib/cli/output.js'
import {planCommand, planFlags} from '../lib/apply/command.js'

export default class Apply extends PolicyCommand {
  static override summary = 'Make the store hold what a tenant file describes, in one transaction; a second apply changes nothing'
  static override flags = {
    ...planFlags,
    'what-if': Flags.boolean({description: 'Change nothing: the same as hnv plan (also -WhatIf)'}),
  }

  override async init(): Promise<void> {
    // PowerShell's -WhatIf, as a Windows operator types it after any command.
    this.argv = this.argv.map((arg) => (/^-whatif(:\$?true)?$/i.test(arg) ? '--what-if' : arg))
    await super.init()
  }

  async execute(flags: AnyFlags): Promise<Result> {
    return planCommand(this.service(flags), flags as never, !flags['what-if'])
  }
}

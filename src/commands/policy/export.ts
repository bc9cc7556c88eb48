import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {writeResult} from '../../lib/cli/output.js'
import {formatDocument} from '../../lib/policy/document.js'

export default class PolicyExport extends PolicyCommand {
  static override summary = 'Print the whole policy as one document that `hnv policy import` reads back'
  static override baseFlags = {store: PolicyCommand.baseFlags.store}
  static override flags = {
    output: Flags.option({options: ['json', 'yaml'] as const, char: 'o', default: 'json', description: 'Document format'})(),
  }

  async execute(flags: AnyFlags): Promise<void> {
    writeResult(await formatDocument(this.service(flags).exportPolicy(), flags.output))
  }
}

import {Args, Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {type Result, writeNote} from '../../lib/cli/output.js'
import {documentSize, readDocument} from '../../lib/policy/document.js'
import {startProgress} from '../../lib/cli/progress.js'

export default class PolicyImport extends PolicyCommand {
  static override summary = 'Create every object of a policy document (JSON or YAML) in one transaction: all or nothing'
  static override baseFlags = {store: PolicyCommand.baseFlags.store, json: PolicyCommand.baseFlags.json}
  static override args = {file: Args.string({required: true, description: 'Document from `hnv policy export`, or - for standard input'})}
  static override flags = {
    replace: Flags.boolean({description: 'Remove the current policy first, so the store holds exactly the document'}),
  }

  async execute(flags: AnyFlags, args: AnyFlags): Promise<Result | void> {
    const document = await readDocument(args.file)
    const progress = startProgress('importing', documentSize(document))
    let counts: Record<string, number>
    try {
      counts = this.service(flags).importPolicy(document, flags.replace, progress)
    } finally {
      progress.done()
    }
    // --json: how many objects of each section were created; people get one line on stderr.
    if (flags.json) return {rows: [counts], columns: Object.keys(counts), single: true}
    const imported = Object.entries(counts).filter(([, n]) => n > 0)
    writeNote(`imported ${imported.length > 0 ? imported.map(([kind, n]) => `${n} ${kind}`).join(', ') : 'nothing'}`)
  }
}

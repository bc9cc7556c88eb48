import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {writeNote, type Result} from '../../lib/cli/output.js'
import {CHECKS, FINDING_COLUMNS, fileCheckInput, findingRows, runChecks, storeCheckInput} from '../../lib/apply/checks.js'
import {readSource} from '../../lib/apply/source.js'
import {ModelService} from '../../lib/model/service.js'

export default class PolicyTest extends PolicyCommand {
  static override summary = 'Check the store (or a file) for policy that cannot work, changing nothing; exit 1 when anything is wrong'
  static override description = `Checks: ${Object.entries(CHECKS).map(([name, what]) => `${name} (${what})`).join('; ')}.`
  static override flags = {
    file: Flags.string({char: 'f', description: 'Check this tenant file or policy document (YAML or JSON) instead of the store; - for standard input'}),
  }

  async execute(flags: AnyFlags): Promise<Result> {
    const input = flags.file === undefined ? storeCheckInput(new ModelService(this.service(flags).store)) : fileCheckInput(await readSource(flags.file))
    const report = runChecks(input)
    for (const skipped of report.skipped) writeNote(`skipped ${skipped.Check}: ${skipped.Reason}`)
    const count = report.findings.length
    writeNote(count === 0 ? `policy test: no problems found (${Object.keys(CHECKS).length - report.skipped.length} checks)` : `policy test: ${count} problem${count === 1 ? '' : 's'} found`)
    if (count > 0) process.exitCode = 1
    return {rows: findingRows(report), columns: FINDING_COLUMNS}
  }
}

// What `hnv plan` and `hnv apply` share: their flags and how a plan becomes output and an exit code.
import {Flags} from '@oclif/core'
import {writeNote} from '../cli/output.js'
import type {Result} from '../cli/output.js'
import {startProgress} from '../cli/progress.js'
import {hostFlag} from '../model/command.js'
import {ModelService} from '../model/service.js'
import type {PolicyService} from '../policy/service.js'
import {readTenantFile} from './file.js'
import {PLAN_COLUMNS, planRows, planSteps, runPlan, summary} from './plan.js'

export const planFlags = {
  file: Flags.string({char: 'f', required: true, description: 'Tenant file (YAML or JSON, schema/TenantFile.json), or - for standard input'}),
  host: hostFlag,
  prune: Flags.boolean({description: 'Also remove model objects (hosts, VM networks, subnets, pools, VMs) the file does not name'}),
  derived: Flags.boolean({description: 'Also list the low-level rows (lookup records, routes, adapters) derived from the model'}),
}

/** Plans or applies a file against the store; notes the summary on stderr; exit 2 for a plan with changes. */
export async function planCommand(policy: PolicyService, flags: {file: string; host?: string; prune?: boolean; derived?: boolean}, apply: boolean): Promise<Result> {
  const file = await readTenantFile(flags.file)
  const service = new ModelService(policy.store)
  const progress = apply ? startProgress('applying', planSteps(file)) : undefined
  let result
  try {
    result = runPlan(service, file, {dryRun: !apply, prune: flags.prune, host: flags.host, progress})
  } finally {
    progress?.done()
  }
  writeNote(summary(result))
  const pending = result.changes.length > 0 || result.derived.length > 0
  if (!apply && pending) process.exitCode = 2
  return {rows: planRows(result, flags.derived ?? false), columns: PLAN_COLUMNS}
}

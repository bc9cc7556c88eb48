import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {render, writeNote, writeResult, type Result} from '../../lib/cli/output.js'
import {startProgress} from '../../lib/cli/progress.js'
import {PLAN_COLUMNS, planRows, summary} from '../../lib/apply/plan.js'
import {ModelService} from '../../lib/model/service.js'
import {ADDRESS_FAMILIES} from '../../lib/model/types.js'
import {onboard} from '../../lib/wizard/onboard.js'
import {terminalPrompter} from '../../lib/wizard/prompts.js'

export default class TenantOnboard extends PolicyCommand {
  static override summary = 'Onboard a tenant step by step: VM network, subnets, VMs and their hosts; shows the plan, applies it, and prints the command line and file that do the same'
  static override description = 'Asks only on a terminal, and only for what the flags leave out; without a terminal it needs --name, --subnet, --vm and --yes (exit 2 naming what is missing).'
  static override flags = {
    name: Flags.string({description: 'Tenant (VM network) name; an existing one gets the new subnets and VMs'}),
    'address-family': Flags.option({options: ADDRESS_FAMILIES, description: 'Address family of a new VM network (default: what the prefixes say)'})(),
    subnet: Flags.string({multiple: true, description: 'A subnet as NAME=PREFIX (DualStack: NAME=PREFIX4,PREFIX6); repeat for more'}),
    vm: Flags.string({multiple: true, description: 'A VM as NAME=SUBNET@HOST; repeat for more'}),
    yes: Flags.boolean({char: 'y', description: 'Apply the plan without asking'}),
  }

  async execute(flags: AnyFlags): Promise<Result | void> {
    const json = flags.json || flags.output === 'json'
    const interactive = Boolean(process.stdin.isTTY && process.stdout.isTTY)
    const service = new ModelService(this.service(flags).store)
    const outcome = await onboard(service, {name: flags.name, addressFamily: flags['address-family'], subnet: flags.subnet, vm: flags.vm, yes: flags.yes}, interactive ? await terminalPrompter() : null, {
      showPlan: (plan) => {
        if (!json) writeResult(render({rows: planRows(plan, false), columns: PLAN_COLUMNS}, 'table'))
        writeNote(summary(plan))
      },
      progress: (total) => startProgress('applying', total),
    })
    if (!outcome.applied) {
      writeNote('not applied: nothing was written')
      process.exitCode = 1
      return
    }
    writeNote(summary(outcome.applied))
    if (json) {
      return {
        rows: [{VMNetwork: outcome.answers.name, Changes: outcome.applied.changes.length, CommandLine: outcome.commandLine, File: outcome.file}],
        columns: ['VMNetwork', 'Changes', 'CommandLine', 'File'],
        single: true,
      }
    }
    writeResult(`\nThe same without questions:\n  ${outcome.commandLine}\n\nAs a file for hnv apply -f:\n${outcome.file}`)
  }
}

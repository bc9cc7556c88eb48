import {PolicyCommand} from '../lib/cli/policy-command.js'
import type {AnyFlags} from '../lib/cli/base.js'
import type {Result} from '../lib/cli/output.js'
import {planCommand, planFlags} from '../lib/apply/command.js'

export default class Plan extends PolicyCommand {
  static override summary = 'Show what `hnv apply -f FILE` would create, change and remove, with the IDs and addresses it would allocate; exit 0 when nothing, 2 when something'
  static override flags = planFlags

  async execute(flags: AnyFlags): Promise<Result> {
    return planCommand(this.service(flags), flags as never, false)
  }
}

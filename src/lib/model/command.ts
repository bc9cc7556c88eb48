// The model's commands are the policy command factories (src/lib/cli/policy-command.ts) run over the
// ModelService, plus --host: the host this store is deployed on, remembered in the store. `hnv apply`
// takes the same flag (hostFlag) and passes it the same way (new ModelService(store, {localHost})).
import {Flags} from '@oclif/core'
import type {AnyFlags} from '../cli/base.js'
import type {KindOperations, PolicyCommand} from '../cli/policy-command.js'
import {ModelService} from './service.js'

export const hostFlag = Flags.string({
  env: 'HNV_HOST',
  helpGroup: 'STORE',
  description: 'The host this store is deployed on (remembered in the store): its provider addresses and its VMs\' adapters are derived',
})

/** A concrete command class from a factory (newCommand(kind), ...): it implements execute. */
type PolicyCommandClass = new (...args: any[]) => PolicyCommand & {execute: PolicyCommand['execute']}

/**
 * A policy command factory's class, run over the model service; commands that write take --host (Get does
 * not: `--host` would read as a filter on VMHost).
 */
export function modelCommand<T extends PolicyCommandClass>(Base: T, writes = true) {
  const baseFlags = (Base as unknown as {flags: Record<string, unknown>}).flags
  class ModelCommand extends Base {
    static flags = writes ? {...baseFlags, host: hostFlag} : baseFlags
    static psPositional = ['name']

    protected override operations(flags: AnyFlags): KindOperations {
      return new ModelService(this.openStore(flags), {localHost: flags.host ?? null})
    }
  }
  return ModelCommand
}

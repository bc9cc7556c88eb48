// Commands over the policy store. The four verbs are built once from a kind's declaration, so every kind
// gets the same parameters, PowerShell semantics and output; a command file only names its kind.
import {readFileSync} from 'node:fs'
import {Flags, type Interfaces} from '@oclif/core'
import {PolicyService, type Outcome, type RawFilters, type RawInput, type Selection} from '../policy/service.js'
import {PolicyStore, defaultStorePath} from '../policy/store.js'
import type {KindSpec, PropertySpec} from '../policy/types.js'
import {paramName} from '../policy/values.js'
import {HnvCommand, type AnyFlags} from './base.js'
import {UsageError} from './errors.js'
import type {Result} from './output.js'
import {readPreferences} from './preferences.js'

/** MACAddress -> mac-address, VirtualSubnetID -> virtual-subnet-id. */
export function kebab(name: string): string {
  return name.replace(/IPv([46])/g, 'Ipv$1').replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2').toLowerCase()
}

/** New/Get/Set/Remove over a kind: PolicyService, or the model's service (src/lib/model). */
export type KindOperations = Pick<PolicyService, 'get' | 'create' | 'set' | 'remove'>

export abstract class PolicyCommand extends HnvCommand {
  static override baseFlags: Interfaces.FlagInput = {
    ...HnvCommand.baseFlags,
    store: Flags.string({env: 'HNV_STORE', helpGroup: 'STORE', description: 'Policy store file (default /var/lib/hnv/policy.db for root, else $XDG_STATE_HOME/hnv/policy.db)'}),
  }

  private opened?: PolicyStore

  protected service(flags: AnyFlags): PolicyService {
    return new PolicyService(this.openStore(flags))
  }

  protected openStore(flags: AnyFlags): PolicyStore {
    this.opened ??= PolicyStore.open(flags.store ?? readPreferences().store ?? defaultStorePath())
    return this.opened
  }

  /** What the New/Get/Set/Remove factories run on; the model's commands give the model service instead. */
  protected operations(flags: AnyFlags): KindOperations {
    return this.service(flags)
  }

  override async finally(error: Error | undefined): Promise<void> {
    this.opened?.close()
    await super.finally(error)
  }

  /** Turns an outcome into output: not-found lines to stderr, -WhatIf lines, or the objects. */
  protected present(kind: KindSpec, verb: string, outcome: Outcome, flags: AnyFlags, show: boolean, single = false): Result | void {
    if (!['SilentlyContinue', 'Ignore'].includes(flags['error-action'])) this.report(outcome.notFound)
    if (flags['what-if']) {
      return {
        columns: ['Operation', 'Target'],
        rows: outcome.changes.map((c) => ({Operation: `${verb}-${kind.noun}`, Target: kind.describe(c.object)})),
        whatIf: true,
      }
    }
    if (show) return {rows: outcome.objects, columns: kind.properties.map((p) => p.name), single}
  }
}

const whatIf = Flags.boolean({description: 'Show what would change and write nothing'})
const passThru = Flags.boolean({description: 'Print the objects changed (Set and Remove print nothing otherwise)'})
const inputObject = Flags.string({description: 'Act on objects given as JSON (from Get ... --json): a file, or - for standard input'})
const errorAction = Flags.option({options: ['Continue', 'SilentlyContinue', 'Ignore', 'Stop'] as const, hidden: true, description: 'PowerShell -ErrorAction: SilentlyContinue and Ignore hide not-found reports (Continue and Stop report them and exit 1)'})()
/** Accepted so pasted scripts run; hnv never prompts. */
const confirm = Flags.boolean({hidden: true, description: 'Accepted for PowerShell compatibility; hnv never asks'})

/** What Set and Remove take besides their filters. */
const changeFlags = {'input-object': inputObject, 'pass-thru': passThru, 'what-if': whatIf, confirm, 'error-action': errorAction}

function propertyFlag(property: PropertySpec, multiple: boolean) {
  const required = property.create === 'mandatory' && !multiple ? ' (required)' : ''
  const description = property.description + required
  if (multiple) return Flags.string({description, multiple: true, delimiter: ','})
  return property.switch ? Flags.boolean({description, allowNo: true}) : Flags.string({description})
}

function flagsOf(properties: PropertySpec[], multiple: boolean) {
  return Object.fromEntries(properties.map((p) => [kebab(paramName(p)), propertyFlag(p, multiple)]))
}

function psNamesOf(kind: KindSpec): Record<string, string> {
  return Object.fromEntries(kind.properties.map((p) => [kebab(paramName(p)), paramName(p)]))
}

function inputOf(kind: KindSpec, flags: AnyFlags, which: (p: PropertySpec) => boolean | undefined): RawInput & RawFilters {
  return Object.fromEntries(kind.properties.filter(which).map((p) => [paramName(p), flags[kebab(paramName(p))]]))
}

/** -InputObject: JSON objects (an array, one object, or one per line) from a file or standard input. */
function readInputObjects(source: string): unknown[] {
  if (source === '-' && process.stdin.isTTY) throw new UsageError("-InputObject - reads JSON from standard input: pipe Get-... --json into it")
  const text = readFileSync(source === '-' ? 0 : source, 'utf8').trim()
  if (text === '') return []
  try {
    const parsed = JSON.parse(text)
    return Array.isArray(parsed) ? parsed : [parsed]
  } catch {
    try {
      return text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line))
    } catch {
      throw new UsageError(`-InputObject ${source} is not JSON: give the output of a Get command with --json`)
    }
  }
}

function selectionOf(kind: KindSpec, flags: AnyFlags, which: (p: PropertySpec) => boolean | undefined): Selection {
  const filters = inputOf(kind, flags, which) as RawFilters
  if (flags['input-object'] === undefined) return {filters}
  if (Object.values(filters).some((v) => v !== undefined)) throw new UsageError('-InputObject selects the objects by itself: drop the filter parameters')
  return {inputObjects: readInputObjects(flags['input-object'])}
}

export function newCommand(kind: KindSpec, verb = 'New') {
  return class extends PolicyCommand {
    static override summary = `${verb === 'New' ? 'Create' : 'Add'} a ${kind.label[0]} (${verb}-${kind.noun})`
    static override aliases = [`${verb}-${kind.noun}`]
    static override flags = {...flagsOf(kind.properties.filter((p) => p.create !== 'no'), false), 'what-if': whatIf, confirm}
    static override psNames = psNamesOf(kind)

    async execute(flags: AnyFlags): Promise<Result | void> {
      const outcome = this.operations(flags).create(kind, inputOf(kind, flags, (p) => p.create !== 'no'), flags['what-if'])
      return this.present(kind, verb, outcome, flags, true, true)
    }
  }
}

export function getCommand(kind: KindSpec) {
  return class extends PolicyCommand {
    static override summary = `List ${kind.label[1]}, optionally filtered (Get-${kind.noun})`
    static override aliases = [`Get-${kind.noun}`]
    static override flags = {...flagsOf(kind.properties.filter((p) => p.filter), true), 'error-action': errorAction}
    static override psNames = psNamesOf(kind)

    async execute(flags: AnyFlags): Promise<Result | void> {
      const outcome = this.operations(flags).get(kind, inputOf(kind, flags, (p) => p.filter) as RawFilters)
      return this.present(kind, 'Get', outcome, flags, true)
    }
  }
}

export function setCommand(kind: KindSpec) {
  return class extends PolicyCommand {
    static override summary = `Change ${kind.label[1]} selected by filters or -InputObject (Set-${kind.noun})`
    static override aliases = [`Set-${kind.noun}`]
    static override flags = {
      ...flagsOf(kind.properties.filter((p) => p.select), true),
      ...flagsOf(kind.properties.filter((p) => p.settable), false),
      ...changeFlags,
    }
    static override psNames = psNamesOf(kind)

    async execute(flags: AnyFlags): Promise<Result | void> {
      const changes = inputOf(kind, flags, (p) => p.settable)
      if (Object.values(changes).every((v) => v === undefined)) {
        throw new UsageError(`nothing to change: give ${kind.properties.filter((p) => p.settable).map((p) => `-${paramName(p)}`).join(', ')}`)
      }
      const outcome = this.operations(flags).set(kind, selectionOf(kind, flags, (p) => p.select), changes, flags['what-if'])
      return this.present(kind, 'Set', outcome, flags, flags['pass-thru'])
    }
  }
}

export function removeCommand(kind: KindSpec, filterBy: (p: PropertySpec) => boolean | undefined = (p) => p.filter) {
  return class extends PolicyCommand {
    static override summary = `Remove ${kind.label[1]} selected by filters or -InputObject; no filter removes all (Remove-${kind.noun})`
    static override aliases = [`Remove-${kind.noun}`]
    static override flags = {
      ...flagsOf(kind.properties.filter(filterBy), true),
      ...changeFlags,
    }
    static override psNames = psNamesOf(kind)

    async execute(flags: AnyFlags): Promise<Result | void> {
      const outcome = this.operations(flags).remove(kind, selectionOf(kind, flags, filterBy), flags['what-if'])
      return this.present(kind, 'Remove', outcome, flags, flags['pass-thru'])
    }
  }
}

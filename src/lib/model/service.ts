// The SCVMM layer over the policy store: hosts, VM networks, subnets, IP and MAC pools, VMs. Model objects
// live in their own tables of the same store, are written in the same transactions and move the same
// revision; after every transaction (before it commits) the model is validated as a whole and the
// low-level policy derived from it (lookup records, customer routes, provider addresses, VM network
// adapters, each row marked with its `origin`) is reconciled, so the engine reloads just what changed.
import {PolicyError} from '../cli/errors.js'
import {PolicyService, type Outcome, type RawFilters, type RawInput, type Selection} from '../policy/service.js'
import type {PolicyStore} from '../policy/store.js'
import type {PolicyObject} from '../policy/types.js'
import {reconcile, deriveAll, type DerivedRow} from './derive.js'
import {MODEL_KINDS, host, ipPool, macPool, vm, vmNetwork, vmSubnet, type ModelKind} from './kinds.js'
import {getLocalHost, storeLocalHost, validateModel} from './rules.js'
import type {DerivedChange, Host, MACAddressPool, StaticIPAddressPool, VM, VMNetwork, VMSubnet} from './types.js'

export interface ModelServiceOptions {
  /**
   * The host this store is deployed on (`--host NAME`, env HNV_HOST): when given, every transaction first
   * remembers it in the store (nothing is written when it is already the one remembered).
   */
  localHost?: string | null
}

export interface TransactionOptions {
  /** Do all the work (allocation, validation, derivation) and keep none of it: plans and -WhatIf. */
  dryRun?: boolean
}

export class ModelService {
  /** The low-level service over the same store (what the model kinds' New/Get/Set/Remove run on). */
  readonly policy: PolicyService
  /** What the last reconciliation created, changed and removed among the derived low-level rows. */
  lastDerivedChanges: DerivedChange[] = []
  private depth = 0

  constructor(readonly store: PolicyStore, readonly options: ModelServiceOptions = {}) {
    this.policy = new PolicyService(store)
  }

  /**
   * Runs fn in ONE write transaction (nested calls join the outer one). When the outermost fn returns,
   * the whole model is validated and the derived low-level rows are reconciled inside that transaction;
   * anything thrown (by fn, validation or derivation) rolls everything back. With dryRun nothing is kept.
   * Allocates nothing itself. Throws PolicyError (bad value, rule broken, pool exhausted, derived row
   * colliding with a hand-made one) or UsageError (missing mandatory parameter).
   */
  transaction<T>(fn: () => T, options: TransactionOptions = {}): T {
    // Nested: part of the outer transaction (a nested dry run is rolled back on its own, as a savepoint).
    if (this.depth > 0) return options.dryRun ? this.store.dryRun(fn) : fn()
    const body = (): T => {
      this.depth++
      try {
        if (this.options.localHost) storeLocalHost(this.store, this.options.localHost)
        const result = fn()
        validateModel(this.store.db)
        this.lastDerivedChanges = reconcile(this.store, deriveAll(this.store.db))
        return result
      } finally {
        this.depth--
      }
    }
    return options.dryRun ? this.store.dryRun(body) : this.store.write(body)
  }

  /** Objects of a model kind matching filters (Get-SCVMNetwork ...). Allocates nothing; throws PolicyError on a bad filter value. */
  get(kind: ModelKind, filters: RawFilters = {}): Outcome {
    return this.policy.get(kind, filters)
  }

  /**
   * Creates one object (New-SCVMNetwork, New-SCVMSubnet, ...). Allocates what is not given: a VM
   * network's RDID (UUID v5 of its name), a subnet's VSID (lowest free from 4096), a pool's range (the
   * subnet's prefix after the .1), a VM's CAs (lowest free in its subnet's pools) and MAC (lowest free in
   * the MAC pools). Throws PolicyError for a bad value, a duplicate name, a missing reference, an
   * exhausted pool (naming the pool and its range), and UsageError for a missing mandatory parameter.
   */
  create(kind: ModelKind, input: RawInput, whatIf = false): Outcome {
    return this.transaction(() => this.policy.create(kind, input), {dryRun: whatIf})
  }

  /**
   * Changes the objects selected by filters or input objects. Allocates nothing. Throws PolicyError when
   * the result breaks a rule (a VM left outside its subnet's new prefix, overlapping prefixes, ...).
   */
  set(kind: ModelKind, selection: Selection, input: RawInput, whatIf = false): Outcome {
    return this.transaction(() => this.policy.set(kind, selection, input), {dryRun: whatIf})
  }

  /**
   * Removes the selected objects and exactly the low-level rows derived from them. Allocates nothing.
   * Throws PolicyError when another object still refers to one (a subnet with VMs or pools, a network with
   * subnets, a host with VMs): remove those first.
   */
  remove(kind: ModelKind, selection: Selection, whatIf = false): Outcome {
    return this.transaction(() => {
      const outcome = this.policy.remove(kind, selection)
      for (const object of outcome.objects) refuseDependents(this.store, kind, String(object.Name))
      // Removing the local host forgets it: the store then derives as a store of no host.
      const local = this.localHost()
      if (kind === host && local !== null && outcome.objects.some((o) => String(o.Name).toLowerCase() === local.toLowerCase())) storeLocalHost(this.store, null)
      return outcome
    }, {dryRun: whatIf})
  }

  /** The host this store is deployed on (its PAs and its VMs' adapters are derived), or null. */
  localHost(): string | null {
    return getLocalHost(this.store.db)
  }

  /**
   * Remembers the local host (`--host NAME`, env HNV_HOST) in the store, in a transaction (joins an open
   * one). The name must be a host of the model by the end of the transaction, else PolicyError naming the
   * hosts there are. null forgets it. Allocates nothing.
   */
  setLocalHost(name: string | null): void {
    this.transaction(() => storeLocalHost(this.store, name))
  }

  /** Every low-level row the model derives now, as derivation would write it. Reads only. */
  derivation(): DerivedRow[] {
    return deriveAll(this.store.db)
  }

  hosts(): Host[] {
    return this.all(host) as unknown as Host[]
  }

  vmNetworks(): VMNetwork[] {
    return this.all(vmNetwork) as unknown as VMNetwork[]
  }

  vmSubnets(): VMSubnet[] {
    return this.all(vmSubnet) as unknown as VMSubnet[]
  }

  ipPools(): StaticIPAddressPool[] {
    return this.all(ipPool) as unknown as StaticIPAddressPool[]
  }

  /** The MAC pools defined (DEFAULT_MAC_POOL applies when there are none). */
  macPools(): MACAddressPool[] {
    return this.all(macPool) as unknown as MACAddressPool[]
  }

  vms(): VM[] {
    return this.all(vm) as unknown as VM[]
  }

  private all(kind: ModelKind): PolicyObject[] {
    return this.policy.get(kind, {}).objects
  }
}

/** What refers to each kind, by which column: an object cannot go while they remain. */
const DEPENDENTS = new Map<ModelKind, {kind: ModelKind; column: string; where?: string; remedy: string}[]>([
  [host, [{kind: vm, column: 'vm_host', where: 'on it', remedy: 'remove or move them first (Remove-SCVirtualMachine, Set-SCVirtualMachine -VMHost)'}]],
  [vmNetwork, [{kind: vmSubnet, column: 'vm_network', remedy: 'remove them first (Remove-SCVMSubnet)'}]],
  [vmSubnet, [
    {kind: vm, column: 'vm_subnet', remedy: 'remove them first (Remove-SCVirtualMachine)'},
    {kind: ipPool, column: 'vm_subnet', remedy: 'remove them first (Remove-SCStaticIPAddressPool)'},
  ]],
])

function refuseDependents(store: PolicyStore, kind: ModelKind, name: string): void {
  for (const dependent of DEPENDENTS.get(kind) ?? []) {
    const names = store.db.prepare(`SELECT name FROM ${dependent.kind.table} WHERE ${dependent.column} = ? COLLATE NOCASE ORDER BY id`).pluck().all(name) as string[]
    if (names.length > 0) {
      throw new PolicyError(`cannot remove ${kind.label[0]} '${name}': ${dependent.kind.label[names.length === 1 ? 0 : 1]} ${names.map((n) => `'${n}'`).join(', ')} ${names.length === 1 ? 'is' : 'are'} still ${dependent.where ?? 'in it'}; ${dependent.remedy}`)
    }
  }
}

export {MODEL_KINDS}

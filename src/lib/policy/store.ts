// The policy store: one SQLite file per host (WAL, busy timeout), one IMMEDIATE transaction per command,
// and a revision counter every committed change increments (the engine polls it to know when to reload).
import {mkdirSync} from 'node:fs'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import Database from 'better-sqlite3'
import {StoreError} from '../cli/errors.js'
import {statement} from './sql.js'

/** PRAGMA application_id of an hnv store: 'HNV1' in ASCII, so `file` and we can tell it from other SQLite files. */
export const APPLICATION_ID = 0x484e5631

/**
 * Schema migrations, in order; migration i brings user_version from i to i + 1. Never edit a released one:
 * add the next. Migration 1 is the first release's schema.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
   INSERT INTO revision VALUES (1, 0);
   CREATE TABLE lookup_records (
     id INTEGER PRIMARY KEY,
     customer_address TEXT NOT NULL,
     virtual_subnet_id INTEGER NOT NULL,
     mac_address TEXT NOT NULL,
     provider_address TEXT NOT NULL,
     customer_id TEXT,
     context TEXT,
     rule TEXT NOT NULL,
     vm_name TEXT,
     use_vm_mac_address INTEGER NOT NULL DEFAULT 0,
     type TEXT NOT NULL
   );
   -- A CA is unique per VSID, except wildcard records (0.0.0.0 / ::), which are unique per VSID and MAC.
   -- The full (VSID, CA, MAC) index also serves -VirtualSubnetID filters; a partial index cannot.
   CREATE UNIQUE INDEX lookup_records_vsid_ca_mac ON lookup_records (virtual_subnet_id, customer_address, mac_address);
   CREATE UNIQUE INDEX lookup_records_vsid_ca ON lookup_records (virtual_subnet_id, customer_address)
     WHERE type IN ('Static', 'Dynamic');
   CREATE INDEX lookup_records_ca ON lookup_records (customer_address);
   CREATE INDEX lookup_records_pa ON lookup_records (provider_address);
   CREATE INDEX lookup_records_mac ON lookup_records (mac_address);
   CREATE TABLE customer_routes (
     id INTEGER PRIMARY KEY,
     routing_domain_id TEXT NOT NULL,
     virtual_subnet_id INTEGER NOT NULL,
     destination_prefix TEXT NOT NULL,
     next_hop TEXT NOT NULL,
     metric INTEGER NOT NULL,
     UNIQUE (routing_domain_id, virtual_subnet_id, destination_prefix, next_hop)
   );
   CREATE INDEX customer_routes_vsid ON customer_routes (virtual_subnet_id);
   CREATE INDEX customer_routes_prefix ON customer_routes (destination_prefix);
   CREATE TABLE provider_addresses (
     id INTEGER PRIMARY KEY,
     provider_address TEXT NOT NULL UNIQUE,
     interface_index INTEGER NOT NULL,
     prefix_length INTEGER NOT NULL,
     vlan_id INTEGER NOT NULL DEFAULT 0,
     address_state TEXT NOT NULL DEFAULT 'Preferred',
     mac_address TEXT,
     managed_by_cluster INTEGER NOT NULL DEFAULT 0
   );
   CREATE TABLE provider_routes (
     id INTEGER PRIMARY KEY,
     interface_index INTEGER NOT NULL,
     destination_prefix TEXT NOT NULL,
     next_hop TEXT NOT NULL,
     metric INTEGER NOT NULL,
     UNIQUE (interface_index, destination_prefix, next_hop)
   );
   CREATE TABLE global_settings (id INTEGER PRIMARY KEY CHECK (id = 1), use_external_router INTEGER NOT NULL);
   INSERT INTO global_settings VALUES (1, 0);
   CREATE TABLE vm_network_adapters (
     id INTEGER PRIMARY KEY,
     vm_name TEXT NOT NULL,
     name TEXT NOT NULL,
     mac_address TEXT NOT NULL UNIQUE,
     virtual_subnet_id INTEGER NOT NULL DEFAULT 0,
     switch_name TEXT,
     interface_name TEXT NOT NULL UNIQUE,
     UNIQUE (vm_name COLLATE NOCASE, name COLLATE NOCASE)
   );
   CREATE INDEX vm_network_adapters_vsid ON vm_network_adapters (virtual_subnet_id);`,
  // 2: the change log (logChange, logFullChange): which rows each revision changed, for the engine's reloads.
  `CREATE TABLE change_log (
     revision INTEGER NOT NULL,
     table_name TEXT NOT NULL,
     row_id INTEGER NOT NULL,
     PRIMARY KEY (revision, table_name, row_id)
   ) WITHOUT ROWID;`,
  // The SCVMM model (src/lib/model): hosts, VM networks, subnets, pools and VMs, referring to each other by
  // name; `origin` marks the low-level rows derived from a model object (NULL: hand-made).
  `CREATE TABLE model_settings (name TEXT PRIMARY KEY, value TEXT);
   CREATE TABLE model_hosts (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     provider_addresses TEXT NOT NULL,
     interface_name TEXT,
     interface_index INTEGER NOT NULL DEFAULT 2,
     description TEXT
   );
   CREATE TABLE model_vm_networks (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     routing_domain_id TEXT NOT NULL UNIQUE,
     address_family TEXT NOT NULL,
     description TEXT
   );
   CREATE TABLE model_vm_subnets (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     vm_network TEXT NOT NULL COLLATE NOCASE,
     prefix TEXT NOT NULL,
     virtual_subnet_id INTEGER NOT NULL UNIQUE,
     description TEXT
   );
   CREATE TABLE model_ip_pools (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     vm_subnet TEXT NOT NULL COLLATE NOCASE,
     range_start TEXT NOT NULL,
     range_end TEXT NOT NULL,
     reserved TEXT,
     description TEXT
   );
   CREATE TABLE model_mac_pools (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     range_start TEXT NOT NULL,
     range_end TEXT NOT NULL,
     description TEXT
   );
   CREATE TABLE model_vms (
     id INTEGER PRIMARY KEY,
     name TEXT NOT NULL UNIQUE COLLATE NOCASE,
     vm_subnet TEXT NOT NULL COLLATE NOCASE,
     vm_host TEXT NOT NULL COLLATE NOCASE,
     ipv4_address TEXT,
     ipv6_address TEXT,
     mac_address TEXT NOT NULL UNIQUE,
     description TEXT
   );
   ALTER TABLE lookup_records ADD COLUMN origin TEXT;
   ALTER TABLE customer_routes ADD COLUMN origin TEXT;
   ALTER TABLE provider_addresses ADD COLUMN origin TEXT;
   ALTER TABLE vm_network_adapters ADD COLUMN origin TEXT;
   CREATE INDEX model_vm_subnets_network ON model_vm_subnets (vm_network);
   CREATE INDEX model_ip_pools_subnet ON model_ip_pools (vm_subnet);
   CREATE INDEX model_vms_subnet ON model_vms (vm_subnet);
   CREATE INDEX model_vms_host ON model_vms (vm_host);
   CREATE INDEX model_vms_ipv4 ON model_vms (ipv4_address);
   CREATE INDEX model_vms_ipv6 ON model_vms (ipv6_address);
   CREATE INDEX lookup_records_origin ON lookup_records (origin) WHERE origin IS NOT NULL;
   CREATE INDEX lookup_records_hand_made ON lookup_records (virtual_subnet_id, customer_address) WHERE origin IS NULL;
   CREATE INDEX customer_routes_origin ON customer_routes (origin) WHERE origin IS NOT NULL;`,
  // issue 5 (learning): VM network adapters the engine's DHCP responder serves (Set-VMNetworkAdapter -Dhcp).
  `ALTER TABLE vm_network_adapters ADD COLUMN dhcp INTEGER NOT NULL DEFAULT 0;`,
  // issue 5 (rules): adapters whose TCP SYN / SYN-ACK MSS the engine clamps (Set-VMNetworkAdapter -MssClamp).
  `ALTER TABLE vm_network_adapters ADD COLUMN mss_clamp INTEGER NOT NULL DEFAULT 0;`,
  // The TranslationMethodNat checks of every lookup record insert look NAT records up by PA: without this index
  // they scanned every record of a busy PA (a 100k-record import took 18 s instead of 2.4 s).
  `CREATE INDEX lookup_records_nat_pa ON lookup_records (provider_address) WHERE rule = 'TranslationMethodNat';`,
]

/** Revisions the change log keeps: an engine further behind than this reloads everything. */
export const CHANGE_LOG_REVISIONS = 256
/** The change log's table_name (with row_id 0) for a revision that may have changed any row. */
export const FULL_CHANGE = '*'

export const SCHEMA_VERSION = MIGRATIONS.length

/** How long a command waits for another writer before giving up. */
const BUSY_TIMEOUT_MS = 10_000

/** /var/lib/hnv/policy.db for root, else $XDG_STATE_HOME/hnv/policy.db; --store and HNV_STORE override. */
export function defaultStorePath(env: NodeJS.ProcessEnv = process.env): string {
  if (process.getuid?.() === 0) return '/var/lib/hnv/policy.db'
  const stateHome = env.XDG_STATE_HOME || join(homedir(), '.local', 'state')
  return join(stateHome, 'hnv', 'policy.db')
}

export class PolicyStore {
  /** Transactions open (write, dryRun), and what the outermost one has logged so far. */
  private depth = 0
  private logged = {calls: 0, rows: 0, full: false}

  private constructor(readonly db: Database.Database, readonly path: string) {}

  /** Opens (creating on first use) the store at path; ':memory:' gives a private in-memory store for tests. */
  static open(path: string): PolicyStore {
    let db: Database.Database
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), {recursive: true})
      db = new Database(path)
    } catch (error) {
      throw new StoreError(`cannot open policy store ${path}: ${(error as Error).message}`)
    }
    const store = new PolicyStore(db, path)
    try {
      store.prepare()
    } catch (error) {
      db.close()
      if (error instanceof StoreError) throw error
      const code = (error as {code?: string}).code
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
        throw new StoreError(`${path} is not an hnv policy store (not an SQLite database); give another --store path`)
      }
      throw new StoreError(`cannot open policy store ${path}: ${(error as Error).message}`)
    }
    return store
  }

  private prepare(): void {
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    // Large imports insert into five indexes in random key order: a 64 MiB page cache keeps them in memory.
    this.db.pragma('cache_size = -65536')
    // One read transaction: the identity's three reads must see one snapshot, or another process creating
    // the same file can commit between them (tables present, application_id not yet seen).
    const current = this.db.transaction(() => {
      this.checkIdentity()
      return this.userVersion()
    })()
    if (current === SCHEMA_VERSION) return
    // Creation and migration race with other processes opening the same new file: decide under the write lock.
    if (this.path !== ':memory:') this.useWal()
    this.db.transaction(() => {
      this.checkIdentity()
      const from = this.userVersion()
      for (let version = from; version < SCHEMA_VERSION; version++) this.db.exec(MIGRATIONS[version])
      this.db.pragma(`application_id = ${APPLICATION_ID}`)
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
    }).immediate()
  }

  /**
   * Switches a new file to WAL. The switch needs an exclusive lock and SQLite answers SQLITE_BUSY at once
   * instead of waiting out the busy timeout, so processes opening the same new file retry it here.
   */
  private useWal(): void {
    const deadline = Date.now() + BUSY_TIMEOUT_MS
    for (;;) {
      try {
        if (this.db.pragma('journal_mode', {simple: true}) !== 'wal') this.db.pragma('journal_mode = WAL')
        return
      } catch (error) {
        if ((error as {code?: string}).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5)
      }
    }
  }

  private userVersion(): number {
    return this.db.pragma('user_version', {simple: true}) as number
  }

  private checkIdentity(): void {
    const applicationId = this.db.pragma('application_id', {simple: true}) as number
    const version = this.userVersion()
    if (applicationId === 0 && version === 0) {
      const tables = this.db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as {n: number}
      if (tables.n === 0) return // a new, empty file: ours to initialise
    }
    if (applicationId !== APPLICATION_ID) {
      throw new StoreError(`${this.path} is not an hnv policy store (another SQLite database); give another --store path`)
    }
    if (version > SCHEMA_VERSION) {
      throw new StoreError(`${this.path} has schema version ${version}, newer than this hnv understands (up to ${SCHEMA_VERSION}); upgrade hnv`)
    }
  }

  /** The revision: how many changes have been committed. One indexed row read. */
  revision(): number {
    return (this.db.prepare('SELECT value FROM revision WHERE id = 1').get() as {value: number}).value
  }

  /**
   * Runs fn in one IMMEDIATE transaction (it takes the write lock up front, so concurrent writers queue on
   * the busy timeout instead of failing on upgrade), bumping the revision when fn changed anything.
   * Anything fn throws rolls everything back.
   */
  write<T>(fn: () => T): T {
    return this.db.transaction(() =>
      this.logging((outermost) => {
        const before = this.db.prepare('SELECT total_changes() AS n').get() as {n: number}
        const result = fn()
        const after = this.db.prepare('SELECT total_changes() AS n').get() as {n: number}
        // Nested writes (a model transaction around policy operations) commit as one revision.
        if (outermost && after.n !== before.n) {
          // A row changed without logChange: the log cannot say which, so it says "any".
          if (outermost && after.n - before.n - this.logged.rows !== this.logged.calls) this.logFullChange()
          this.db.prepare('UPDATE revision SET value = value + 1 WHERE id = 1').run()
          this.db.prepare('DELETE FROM change_log WHERE revision <= (SELECT value FROM revision WHERE id = 1) - ?').run(CHANGE_LOG_REVISIONS)
        }
        return result
      }),
    ).immediate()
  }

  /**
   * Records in the change log that the write in progress changed row `id` of `table` (inserted, updated or
   * deleted), so that the engine reloads just that row. Every row a write changes is logged this way, or
   * the write logs a full change; write() logs the full change itself when rows changed unlogged.
   */
  logChange(table: string, id: number): void {
    if (this.logged.full) return
    this.logged.calls++
    this.logged.rows += statement(this.db, 'INSERT OR IGNORE INTO change_log VALUES ((SELECT value FROM revision WHERE id = 1) + 1, ?, ?)').run(table, id).changes
  }

  /** Records that the write in progress may change any row (an import): the engine reloads everything. */
  logFullChange(): void {
    if (this.logged.full) return
    this.logged.full = true
    statement(this.db, 'INSERT OR IGNORE INTO change_log VALUES ((SELECT value FROM revision WHERE id = 1) + 1, ?, 0)').run(FULL_CHANGE)
  }

  private logging<T>(fn: (outermost: boolean) => T): T {
    const outermost = this.depth++ === 0
    if (outermost) this.logged = {calls: 0, rows: 0, full: false}
    try {
      return fn(outermost)
    } finally {
      this.depth--
    }
  }

  /** Runs fn in a transaction that is always rolled back: -WhatIf does the real work and keeps none of it. */
  dryRun<T>(fn: () => T): T {
    let result: T | undefined
    const rollback = new Error('dry run')
    try {
      this.db.transaction(() =>
        this.logging(() => {
          result = fn()
          throw rollback
        }),
      ).immediate()
    } catch (error) {
      if (error !== rollback) throw error
    }
    return result as T
  }

  close(): void {
    this.db.close()
  }
}

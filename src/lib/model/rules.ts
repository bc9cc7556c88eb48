// Whole-model validation and the local-host setting, run inside the model's transactions.
import type Database from 'better-sqlite3'
import {PolicyError} from '../cli/errors.js'
import {statement} from '../policy/sql.js'
import type {PolicyStore} from '../policy/store.js'
import type {PolicyObject} from '../policy/types.js'
import {MODEL_KINDS} from './kinds.js'

const LOCAL_HOST = 'local_host'

/** The host this store is deployed on, as remembered by setLocalHost (`--host`, HNV_HOST), or null. */
export function getLocalHost(db: Database.Database): string | null {
  const row = statement(db, 'SELECT value FROM model_settings WHERE name = ?').get(LOCAL_HOST) as {value: string | null} | undefined
  return row?.value ?? null
}

/** Remembers (or, with null, forgets) the local host; writes only when it changes. Call inside a write. */
export function storeLocalHost(store: PolicyStore, name: string | null): void {
  const value = name === null || name.trim() === '' ? null : name.trim()
  const current = getLocalHost(store.db)
  if (current === value) return
  if (value === null) statement(store.db, 'DELETE FROM model_settings WHERE name = ?').run(LOCAL_HOST)
  else statement(store.db, 'INSERT INTO model_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(LOCAL_HOST, value)
  store.logChange('model_settings', 1)
}

/**
 * Runs every model object's rules again (a Set or Remove may have broken another object's: a VM left
 * outside its subnet's new prefix, a subnet whose network was removed) and checks the local host exists.
 * Throws the first PolicyError, prefixed with the object it is about.
 */
export function validateModel(db: Database.Database): void {
  const ctx = {db}
  for (const kind of MODEL_KINDS) {
    const columns = kind.properties.map((p) => `${p.column} AS "${p.name}"`).join(', ')
    for (const row of statement(db, `SELECT id, ${columns} FROM ${kind.table} ORDER BY id`).all() as ({id: number} & PolicyObject)[]) {
      const {id, ...object} = row
      try {
        kind.check?.(object, ctx, id)
      } catch (error) {
        if (error instanceof PolicyError && !error.message.includes(`'${object.Name}'`)) throw new PolicyError(`${kind.name} '${object.Name}': ${error.message}`)
        throw error
      }
    }
  }
  const local = getLocalHost(db)
  if (local !== null && !statement(db, 'SELECT 1 FROM model_hosts WHERE name = ? COLLATE NOCASE').get(local)) {
    const names = (statement(db, 'SELECT name FROM model_hosts ORDER BY id').all() as {name: string}[]).map((r) => r.name)
    throw new PolicyError(`the local host '${local}' (--host, HNV_HOST) is not a host of the model (${names.length > 0 ? `hosts: ${names.join(', ')}` : 'there is none'}); add it with Add-SCVMHost or give another --host`)
  }
}

import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {StoreError} from '../../../src/lib/cli/errors.js'
import {APPLICATION_ID, PolicyStore, SCHEMA_VERSION, defaultStorePath} from '../../../src/lib/policy/store.js'
import {tempDir} from '../../support/cli.js'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

describe('PolicyStore', () => {
  it('creates its schema on first use, in WAL mode, marked as an hnv store', () => {
    const path = join(dir.path, 'nested', 'policy.db')
    const store = PolicyStore.open(path)
    expect(store.db.pragma('journal_mode', {simple: true})).toBe('wal')
    expect(store.db.pragma('application_id', {simple: true})).toBe(APPLICATION_ID)
    expect(store.db.pragma('user_version', {simple: true})).toBe(SCHEMA_VERSION)
    expect(store.revision()).toBe(0)
    store.close()
    expect(PolicyStore.open(path).revision()).toBe(0)
  })

  it('refuses a file that is not SQLite', () => {
    const path = join(dir.path, 'notes.txt')
    writeFileSync(path, 'this is not a database, just some text that is long enough to look like a header'.repeat(20))
    expect(() => PolicyStore.open(path)).toThrow(StoreError)
    expect(() => PolicyStore.open(path)).toThrow('is not an hnv policy store (not an SQLite database)')
  })

  it('refuses another application\'s SQLite database and leaves it alone', () => {
    const path = join(dir.path, 'other.db')
    const other = new Database(path)
    other.exec('CREATE TABLE t (x)')
    other.close()
    expect(() => PolicyStore.open(path)).toThrow('is not an hnv policy store (another SQLite database)')
    const check = new Database(path)
    expect(check.pragma('application_id', {simple: true})).toBe(0)
    check.close()
  })

  it('refuses a store from a newer hnv', () => {
    const path = join(dir.path, 'newer.db')
    PolicyStore.open(path).close()
    const db = new Database(path)
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`)
    db.close()
    expect(() => PolicyStore.open(path)).toThrow(`has schema version ${SCHEMA_VERSION + 1}, newer than this hnv understands (up to ${SCHEMA_VERSION}); upgrade hnv`)
  })

  it('rolls back everything when a write fails', () => {
    const store = PolicyStore.open(join(dir.path, 'p.db'))
    expect(() => store.write(() => {
      store.db.prepare('UPDATE global_settings SET use_external_router = 1').run()
      throw new Error('boom')
    })).toThrow('boom')
    expect(store.db.prepare('SELECT use_external_router AS u FROM global_settings').get()).toEqual({u: 0})
    expect(store.revision()).toBe(0)
  })

  it('puts root\'s store under /var/lib/hnv and a user\'s under XDG_STATE_HOME', () => {
    const expected = process.getuid?.() === 0 ? '/var/lib/hnv/policy.db' : '/x/state/hnv/policy.db'
    expect(defaultStorePath({XDG_STATE_HOME: '/x/state'})).toBe(expected)
  })
})

import type Database from 'better-sqlite3'

const cache = new WeakMap<Database.Database, Map<string, Database.Statement>>()

/** A prepared statement, compiled once per connection: imports run the same rule checks 100k times. */
export function statement(db: Database.Database, sql: string): Database.Statement {
  let statements = cache.get(db)
  if (!statements) cache.set(db, (statements = new Map()))
  let prepared = statements.get(sql)
  if (!prepared) statements.set(sql, (prepared = db.prepare(sql)))
  return prepared
}

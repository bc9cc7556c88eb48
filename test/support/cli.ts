// Runs hnv in this process (the built commands under dist/, as bin/run.js does) and captures what it prints.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {spawnSync} from 'node:child_process'
import {main} from '../../src/lib/cli/main.js'

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(ROOT, 'bin/run.js')

export interface Run {
  stdout: string
  stderr: string
  code: number
}

/** hnv with args against store, in-process: fast enough for tables of cases. */
export async function hnv(store: string, ...args: string[]): Promise<Run> {
  const out: string[] = []
  const err: string[] = []
  const writeOut = process.stdout.write
  const writeErr = process.stderr.write
  const savedStore = process.env.HNV_STORE
  process.env.HNV_STORE = store
  process.exitCode = undefined
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write
  try {
    await main(args, join(ROOT, 'package.json'))
  } finally {
    process.stdout.write = writeOut
    process.stderr.write = writeErr
    if (savedStore === undefined) delete process.env.HNV_STORE
    else process.env.HNV_STORE = savedStore
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = undefined
  return {stdout: out.join(''), stderr: err.join(''), code}
}

/** hnv as a separate process, for what only a real process shows (pipes, exit codes, concurrency). */
export function hnvProcess(store: string, args: string[], input?: string): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], {input, encoding: 'utf8', env: {...process.env, HNV_STORE: store}})
  return {stdout: result.stdout, stderr: result.stderr, code: result.status ?? -1}
}

export function tempDir(): {path: string; remove(): void} {
  const path = mkdtempSync(join(tmpdir(), 'hnv-test-'))
  return {path, remove: () => rmSync(path, {recursive: true, force: true})}
}

// Commands inside a test's network namespaces (integration tests only; they create and remove the namespaces).
import {execFileSync, spawn} from 'node:child_process'

/** Runs a command in namespace `ns`; its stdout. Throws when it exits non-zero. */
export function inNs(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

/** A command's stdout and stderr together, whatever its exit code. */
export function inNsOutput(ns: string, ...args: string[]): string {
  try {
    return inNs(ns, ...args)
  } catch (error) {
    const e = error as {stdout?: string; stderr?: string}
    return (e.stdout ?? '') + (e.stderr ?? '')
  }
}

/** The kernel's count of ICMP echo requests received in a namespace. */
export function inEchos(ns: string): number {
  const lines = inNs(ns, 'cat', '/proc/net/snmp').split('\n').filter((line) => line.startsWith('Icmp:'))
  return Number(lines[1].split(/\s+/)[lines[0].split(/\s+/).indexOf('InEchos')])
}

/** Fails the suite's setup naming what to install when a command the test runs is missing. */
export function requireTools(tools: string[], install: string): void {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], {stdio: 'ignore'})
    } catch {
      throw new Error(`${tool} is not installed (${install})`)
    }
  }
}

/** Namespaces whose names start with `prefix`: after a test's teardown there must be none. */
export function namespacesLeft(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], {encoding: 'utf8'}).split('\n').filter((line) => line.startsWith(prefix))
}

/**
 * Starts `command` in namespace `ns`: `ready` resolves once it prints a line "listening", `done` with the
 * rest of its stdout when it exits 0 (it rejects with its output otherwise, or once `timeoutMs` pass).
 */
export function startInNs(ns: string, command: string[], timeoutMs: number): {done: Promise<string>; ready: Promise<void>} {
  const child = spawn('ip', ['netns', 'exec', ns, ...command], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  let markReady!: () => void
  const ready = new Promise<void>((r) => (markReady = r))
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
    if (out.includes('listening')) markReady()
  })
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const timer = setTimeout(() => child.kill(), timeoutMs)
  const done = new Promise<string>((resolve, reject) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out.replace('listening\n', '').trim())
      else reject(new Error(`${ns}: exit ${code}: ${out.trim()} ${err.trim()}`))
    }),
  )
  return {done, ready}
}

// Commands inside a test's network namespaces (integration tests only; they create and remove the namespaces).
import {execFileSync} from 'node:child_process'

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

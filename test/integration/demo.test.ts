// `hnv demo` as an operator runs it: the whole classic topology built, checked and removed by the real
// binary, also when interrupted with Ctrl-C, and kept up with --keep until --down. Needs root.
import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {removeKept} from '../../src/lib/demo/topology.js'
import {namespacesLeft} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/demo.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

function leftovers(prefix: string): string[] {
  const namespaces = namespacesLeft(prefix)
  const engines = execFileSync('ps', ['-eo', 'args'], {encoding: 'utf8'}).split('\n').filter((line) => line.includes(`/${prefix}`) && line.includes('engine start'))
  return [...namespaces, ...engines]
}

/** Runs hnv in its own process group, as a terminal runs it; resolves on exit. */
function hnv(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [BIN, ...args], {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    onStderr?.(stderr, child)
  })
  return {
    child,
    done: once(child, 'exit').then(([code]) => ({code: code as number | null, stdout, stderr, prefix: `hnvdemo-${child.pid}`})),
  }
}

describe.skipIf(!isRoot)('hnv demo (needs root)', () => {
  it('builds reference §6, passes its checks, prints the counters and removes everything', async () => {
    const run = await hnv(['demo', '--json']).done
    expect(run.code, run.stderr).toBe(0)
    const checks = JSON.parse(run.stdout) as {Check: string; Passed: boolean}[]
    expect(checks.map((c) => c.Check)).toEqual([
      'Blue1 -> Blue2 across hosts',
      'Red1 -> Red2 across hosts',
      'Blue1 resolves 10.0.0.7 to its own tenant',
      'Red1 resolves 10.0.0.7 to its own tenant',
      "Blue1 -> Red2 (Red2's MAC forced)",
    ])
    expect(checks.every((c) => c.Passed)).toBe(true)
    expect(run.stderr).toContain('Lookup records')
    expect(run.stderr).toMatch(/host1 engine .*: drops\nReason +Packets/)
    expect(run.stderr).toContain('dst-mac-mismatch')
    expect(leftovers(run.prefix)).toEqual([])
  }, 60_000)

  it('tears everything down when interrupted by Ctrl-C', async () => {
    let interrupted = false
    const run = await hnv(['demo'], (stderr, child) => {
      // Once the VMs are up: SIGINT to the whole process group, as a terminal's Ctrl-C does.
      if (stderr.includes('VMs up') && !interrupted) {
        interrupted = true
        process.kill(-child.pid!, 'SIGINT')
      }
    }).done
    expect(interrupted).toBe(true)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/hnv: demo interrupted; everything it made has been removed\n$/)
    expect(leftovers(run.prefix)).toEqual([])
  }, 60_000)

  it('leaves the topology up with --keep, working, until hnv demo --down', async () => {
    const kept = await hnv(['demo', '--keep']).done
    try {
      expect(kept.code, kept.stderr).toBe(0)
      expect(kept.stderr).toContain('hnv demo --down')
      const ping = execFileSync('ip', ['netns', 'exec', `${kept.prefix}-red2`, 'ping', '-c', '2', '-i', '0.2', '10.0.0.5'], {encoding: 'utf8'})
      expect(ping).toMatch(/2 received/)
    } finally {
      // What `hnv demo --down` does, for this demo only: a developer's own kept demo is not ours to remove.
      const {removed, problems} = await removeKept(kept.prefix)
      expect(problems).toEqual([])
      expect(removed).toEqual([kept.prefix])
    }
    expect(leftovers(kept.prefix)).toEqual([])
  }, 60_000)
})

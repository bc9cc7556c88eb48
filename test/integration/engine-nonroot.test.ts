// Without root, the commands that build network plumbing say so in one line and exit 1. As root the test
// drops to nobody (setpriv); otherwise it runs as the user it already is.
import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'

const isRoot = process.getuid?.() === 0

function asUnprivileged(args: string[]): {code: number | null; stderr: string; stdout: string} {
  const command = isRoot
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args]
    : [process.execPath, BIN, ...args]
  // nobody's HOME: the one of the user who ran the tests would not be nobody's to read.
  const env = isRoot ? {...process.env, HOME: '/nonexistent', XDG_CONFIG_HOME: '', XDG_STATE_HOME: '', HNV_STORE: ''} : process.env
  const result = spawnSync(command[0], command.slice(1), {encoding: 'utf8', env, cwd: '/'})
  return {code: result.status, stderr: result.stderr, stdout: result.stdout}
}

describe('without root', () => {
  for (const [args, what] of [
    [['engine', 'start'], 'engine start'],
    [['engine', 'start', '--detach'], 'engine start'],
    [['demo'], 'demo'],
    [['demo', '--keep'], 'demo'],
  ] as const) {
    it(`hnv ${args.join(' ')} says in one line that it needs root (CAP_NET_ADMIN) and exits 1`, () => {
      const run = asUnprivileged([...args])
      expect(run.code).toBe(1)
      expect(run.stdout).toBe('')
      const lines = run.stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(new RegExp(`^hnv: ${what} needs root \\(CAP_NET_ADMIN`))
    })
  }

  it('hnv engine status says only root may talk to an engine, or that none runs', () => {
    const run = asUnprivileged(['engine', 'status', '--store', '/nonexistent/policy.db'])
    expect(run.code).toBe(1)
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toMatch(/^hnv: (no engine is running|only root may talk to the engine)/)
  })
})

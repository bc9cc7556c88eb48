// The onboarding wizard: its prompt flow driven through @inquirer/testing's render() (the real prompts, on a
// virtual screen), the refusal to prompt without a terminal (one table for every prompt's flag), and the
// command end to end on a real pseudo-terminal.
import {spawn, spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {confirm, input, number, select} from '@inquirer/prompts'
import {render} from '@inquirer/testing'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, hnvProcess, tempDir} from '../../support/cli.js'
import {ModelService} from '../../../src/lib/model/service.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {parseTenantFile} from '../../../src/lib/apply/file.js'
import {runPlan} from '../../../src/lib/apply/plan.js'
import {ONBOARD_PROMPTS, missingFlags, onboard, suggestPrefix, type OnboardFlags} from '../../../src/lib/wizard/onboard.js'
import type {Prompter} from '../../../src/lib/wizard/prompts.js'

const BASE = `Version: 1
Hosts:
  - {Name: host1, ProviderAddresses: 198.51.100.11/24}
  - {Name: host2, ProviderAddresses: 198.51.100.22/24}
VMNetworks: [{Name: Blue}]
VMSubnets: [{Name: Blue-Subnet1, VMNetwork: Blue, Prefix: 10.0.0.0/24}]
VMs: [{Name: Blue1, VMSubnet: Blue-Subnet1, VMHost: host1}]
`

async function baseService(): Promise<ModelService> {
  const service = new ModelService(PolicyStore.open(':memory:'))
  runPlan(service, await parseTenantFile(BASE, 'base.yaml'), {dryRun: false})
  return service
}

type Key = string | {name: string}
interface Step {
  /** What the prompt shows before any key. */
  screen: RegExp
  /** Keys to type or press, and screens to expect on the way (validation errors). */
  actions: (Key | RegExp)[]
}

/** A Prompter whose every prompt is the real @inquirer prompt rendered by @inquirer/testing, answered by a script. */
function scripted(steps: Step[]): Prompter & {left: () => number} {
  const ask = async <T>(prompt: unknown, config: object): Promise<T> => {
    const step = steps.shift()
    if (!step) throw new Error(`unexpected prompt: ${JSON.stringify(config)}`)
    const {answer, events, getScreen} = await render(prompt as never, config as never)
    expect(getScreen()).toMatch(step.screen)
    for (const action of step.actions) {
      if (action instanceof RegExp) {
        await new Promise((resolve) => setTimeout(resolve, 20)) // validation runs asynchronously
        expect(getScreen()).toMatch(action)
      } else if (typeof action === 'string') events.type(action)
      else events.keypress(action.name)
    }
    return (await answer) as T
  }
  return {
    input: (config) => ask(input, config),
    select: (config) => ask(select, config),
    number: (config) => ask(number, {...config, required: true}),
    confirm: (config) => ask(confirm, config),
    left: () => steps.length,
  }
}

const ENTER = {name: 'enter'}
const DOWN = {name: 'down'}

describe('the wizard flow (@inquirer/testing)', () => {
  it('onboards a new tenant: name, family, two subnets with suggested prefixes, VMs and hosts, plan, confirm', async () => {
    const service = await baseService()
    const BACKSPACE = {name: 'backspace'}
    const prompter = scripted([
      {screen: /Tenant \(VM network\) name/, actions: ['Green', ENTER]},
      {screen: /Address family[\s\S]*IPv4[\s\S]*IPv6[\s\S]*DualStack/, actions: [ENTER]},
      {screen: /Prefix of subnet 1 \(10\.0\.0\.0\/24\)/, actions: [ENTER]},
      {screen: /Add another subnet\?/, actions: ['y', ENTER]},
      // A prefix that clashes is refused in place; cleared, enter takes the suggestion.
      {screen: /Prefix of subnet 2 \(10\.1\.0\.0\/24\)/, actions: ['10.0.0.128/25', ENTER, /10\.0\.0\.128\/25 overlaps 10\.0\.0\.0\/24, already a subnet of this tenant/, ...Array(13).fill(BACKSPACE), ENTER]},
      {screen: /Add another subnet\?/, actions: [ENTER]},
      {screen: /How many VMs in Green-Subnet1 \(10\.0\.0\.0\/24\)\?/, actions: ['1', ENTER]},
      {screen: /Host for Green1[\s\S]*host1[\s\S]*host2/, actions: [DOWN, ENTER]},
      {screen: /How many VMs in Green-Subnet2/, actions: ['1', ENTER]},
      {screen: /Host for Green2/, actions: [ENTER]},
      {screen: /Apply this plan\?/, actions: [ENTER]},
    ])
    const shown: string[] = []
    const outcome = await onboard(service, {}, prompter, {showPlan: (plan) => shown.push(...plan.changes.map((c) => `${c.Operation} ${c.Kind} ${c.Name}: ${c.Details}`))})
    expect(shown).toEqual([
      'New VMNetwork Green: RoutingDomainID {2428d672-a4d4-5b17-9258-d3443fe13306}, AddressFamily IPv4',
      'New VMSubnet Green-Subnet1: VMNetwork Green, Prefix 10.0.0.0/24, VirtualSubnetID 4097',
      'New VMSubnet Green-Subnet2: VMNetwork Green, Prefix 10.1.0.0/24, VirtualSubnetID 4098',
      'New VM Green1: VMSubnet Green-Subnet1, VMHost host2, IPv4Address 10.0.0.2, MACAddress 02484E560001',
      'New VM Green2: VMSubnet Green-Subnet2, VMHost host2, IPv4Address 10.1.0.2, MACAddress 02484E560002',
    ])
    expect(outcome.applied?.changes).toHaveLength(5)
    expect(service.vms().map((vm) => `${vm.Name} ${vm.VMHost} ${vm.IPv4Address}`)).toEqual(['Blue1 host1 10.0.0.2', 'Green1 host2 10.0.0.2', 'Green2 host2 10.1.0.2'])
    expect(outcome.commandLine).toBe('hnv tenant onboard --name Green --address-family IPv4 --subnet Green-Subnet1=10.0.0.0/24 --subnet Green-Subnet2=10.1.0.0/24 --vm Green1=Green-Subnet1@host2 --vm Green2=Green-Subnet2@host2 --yes')
    // The file does the same on another store: same IDs and addresses.
    const other = await baseService()
    const replay = runPlan(other, await parseTenantFile(outcome.file, 'onboard.yaml'), {dryRun: false})
    expect(replay.changes).toEqual(outcome.applied!.changes)
    expect(prompter.left()).toBe(0)
  })

  it('adds to an existing tenant: no family question, a prefix that does not clash, nothing written when not confirmed', async () => {
    const service = await baseService()
    const revision = service.store.revision()
    const prompter = scripted([
      {screen: /Tenant \(VM network\) name/, actions: ['blue', ENTER]},
      {screen: /Prefix of subnet 1 \(10\.1\.0\.0\/24\)/, actions: [ENTER]},
      {screen: /Add another subnet\?/, actions: [ENTER]},
      {screen: /How many VMs in Blue-Subnet2 \(10\.1\.0\.0\/24\)\?/, actions: [ENTER]},
      {screen: /Host for Blue2/, actions: [ENTER]},
      {screen: /Host for Blue3/, actions: [ENTER]},
      {screen: /Apply this plan\?/, actions: ['n', ENTER]},
    ])
    const outcome = await onboard(service, {}, prompter, {showPlan: () => {}})
    expect(outcome.applied).toBeNull()
    expect(outcome.plan.changes.map((c) => `${c.Kind} ${c.Name}`)).toEqual(['VMSubnet Blue-Subnet2', 'VM Blue2', 'VM Blue3'])
    expect(outcome.commandLine).toBe('hnv tenant onboard --name Blue --address-family IPv4 --subnet Blue-Subnet2=10.1.0.0/24 --vm Blue2=Blue-Subnet2@host1 --vm Blue3=Blue-Subnet2@host2 --yes')
    expect(service.store.revision()).toBe(revision)
    expect(prompter.left()).toBe(0)
  })

  it('asks only what the flags leave out', async () => {
    const service = await baseService()
    const prompter = scripted([{screen: /Apply this plan\?/, actions: [ENTER]}])
    const outcome = await onboard(service, {name: 'Red', subnet: ['Red-A=10.5.0.0/24,2001:db8:5::/64'], vm: ['Red1=Red-A@host2']}, prompter, {showPlan: () => {}})
    expect(outcome.answers.addressFamily).toBe('DualStack')
    expect(service.vms().find((vm) => vm.Name === 'Red1')).toMatchObject({IPv4Address: '10.5.0.2', IPv6Address: '2001:db8:5::2'})
  })

  it('suggests the first prefix the tenant does not use, per family', () => {
    expect(suggestPrefix('IPv4', ['10.0.0.0/24', '10.1.0.0/16'])).toBe('10.2.0.0/24')
    expect(suggestPrefix('IPv6', ['2001:db8::/64'])).toBe('2001:db8:0:1::/64')
    expect(suggestPrefix('DualStack', ['10.0.0.0/24', '2001:db8::/64'])).toBe('10.1.0.0/24,2001:db8:0:1::/64')
  })
})

describe('without a terminal it never prompts', () => {
  const dir = tempDir()
  const store = join(dir.path, 'policy.db')
  afterAll(() => dir.remove())
  beforeAll(() => {
    expect(hnvProcess(store, ['apply', '-f', '-'], BASE).code).toBe(0)
  })

  const ALL: OnboardFlags = {name: 'Green', addressFamily: 'IPv4', subnet: ['Green-A=10.9.0.0/24'], vm: ['Green1=Green-A@host1'], yes: true}
  const args = (flags: OnboardFlags) => [
    ...(flags.name ? ['--name', flags.name] : []),
    ...(flags.addressFamily ? ['--address-family', flags.addressFamily] : []),
    ...(flags.subnet ?? []).flatMap((s) => ['--subnet', s]),
    ...(flags.vm ?? []).flatMap((v) => ['--vm', v]),
    ...(flags.yes ? ['--yes'] : []),
  ]
  // One row per prompt: leave its flag out (and, for the family, the prefixes it could be read from).
  const rows: [string, OnboardFlags, string[]][] = [
    ['tenant name', {...ALL, name: undefined}, ['--name']],
    ['address family', {...ALL, addressFamily: undefined, subnet: undefined}, ['--address-family', '--subnet']],
    ['subnets and their prefixes', {...ALL, subnet: undefined}, ['--subnet']],
    ['VMs per subnet and their hosts', {...ALL, vm: undefined}, ['--vm']],
    ['confirmation of the plan', {...ALL, yes: undefined}, ['--yes']],
  ]

  it('every prompt has a flag, and the table covers them all', () => {
    expect(rows.map((r) => r[0])).toEqual(ONBOARD_PROMPTS.map((p) => p.prompt))
  })

  it.each(rows)('without the answer to "%s" it exits 2 naming the flags', async (_prompt, flags, missing) => {
    const opened = PolicyStore.open(store)
    expect(missingFlags(flags, new ModelService(opened))).toEqual(missing)
    opened.close()
    const run = hnvProcess(store, ['tenant', 'onboard', ...args(flags)], '')
    expect(run.code).toBe(2)
    const named = ONBOARD_PROMPTS.filter((p) => missing.includes(p.flag)).map((p) => (p.value ? `${p.flag} ${p.value}` : p.flag))
    expect(run.stderr).toBe(`hnv: no terminal to ask on: give ${named.join(', ')}; or describe the tenant in a file for hnv apply -f FILE\n`)
  })

  it('with every flag it onboards without asking, and prints the command line and file', () => {
    const run = hnvProcess(store, ['tenant', 'onboard', ...args(ALL), '--json'], '')
    expect(run.code).toBe(0)
    const result = JSON.parse(run.stdout)
    expect(result).toMatchObject({VMNetwork: 'Green', Changes: 3, CommandLine: 'hnv tenant onboard --name Green --address-family IPv4 --subnet Green-A=10.9.0.0/24 --vm Green1=Green-A@host1 --yes'})
    const again = hnvProcess(store, ['apply', '-f', '-'], result.File)
    expect(again.stderr).toBe('no changes: the store already holds what the file describes\n')
  })
})

const hasScript = spawnSync('script', ['--version']).status === 0

/** hnv tenant onboard on a pseudo-terminal (script(1)): wait for a prompt, then type. */
function onTerminal(store: string) {
  const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} tenant onboard`, '/dev/null'], {env: {...process.env, HNV_STORE: store, TERM: 'dumb', COLUMNS: '120'}})
  let screen = ''
  child.stdout.on('data', (chunk) => (screen += chunk.toString()))
  let seen = 0
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)))
  return {
    exited,
    screen: () => screen,
    kill: () => child.kill(),
    async expectThen(pattern: RegExp, keys: string): Promise<void> {
      const deadline = Date.now() + 20_000
      while (!pattern.test(screen.slice(seen))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; screen:\n${screen.slice(seen)}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      seen = screen.length
      child.stdin.write(keys)
    },
  }
}

describe.skipIf(!hasScript)('the command on a terminal (a pseudo-terminal from script(1))', () => {
  const dir = tempDir()
  afterAll(() => dir.remove())

  it('asks, shows the plan, applies after yes, and prints the command line', async () => {
    const store = join(dir.path, 'tty.db')
    expect(hnvProcess(store, ['apply', '-f', '-'], BASE).code).toBe(0)
    const terminal = onTerminal(store)
    try {
      await terminal.expectThen(/Tenant \(VM network\) name/, 'Teal\r')
      await terminal.expectThen(/Address family/, '\r')
      await terminal.expectThen(/Prefix of subnet 1/, '\r')
      await terminal.expectThen(/Add another subnet\?/, '\r')
      await terminal.expectThen(/How many VMs in Teal-Subnet1/, '1\r')
      await terminal.expectThen(/Host for Teal1/, '\x1b[B\r')
      await terminal.expectThen(/Apply this plan\?/, '\r')
      expect(await terminal.exited).toBe(0)
    } finally {
      terminal.kill()
    }
    expect(terminal.screen()).toMatch(/New\s+VM\s+Teal1\s+VMSubnet Teal-Subnet1, VMHost host2, IPv4Address 10\.0\.0\.2/)
    expect(terminal.screen()).toContain('hnv tenant onboard --name Teal --address-family IPv4 --subnet Teal-Subnet1=10.0.0.0/24 --vm Teal1=Teal-Subnet1@host2 --yes')
    const opened = PolicyStore.open(store)
    expect(new ModelService(opened).vms().map((vm) => vm.Name)).toEqual(['Blue1', 'Teal1'])
    opened.close()
  })

  it('Ctrl+C at a prompt: one line, exit 1, nothing written', async () => {
    const store = join(dir.path, 'cancel.db')
    expect(hnvProcess(store, ['apply', '-f', '-'], BASE).code).toBe(0)
    const before = PolicyStore.open(store)
    const revision = before.revision()
    before.close()
    const terminal = onTerminal(store)
    try {
      await terminal.expectThen(/Tenant \(VM network\) name/, 'Teal\r')
      await terminal.expectThen(/Address family/, '\x03')
      expect(await terminal.exited).toBe(1)
    } finally {
      terminal.kill()
    }
    expect(terminal.screen()).toContain('hnv: cancelled at a prompt: nothing was written')
    const after = PolicyStore.open(store)
    expect(after.revision()).toBe(revision)
    after.close()
  })
})

// `hnv tenant onboard`: ask for a tenant (VM network), its address family, its subnets (a prefix suggested
// that does not clash with the tenant's own) and its VMs per subnet with the host each runs on; show the
// plan with what would be allocated, ask to confirm, apply in one transaction, and hand back the
// equivalent command line and declarative file, so the next tenant can be onboarded by a script.
//
// Every prompt has a flag (ONBOARD_PROMPTS); a flag given skips its prompt. Without a terminal there is no
// Prompter and nothing is asked: what is missing is a UsageError (exit 2) naming the flags, or the file.
// The wizard writes what it gathered as a tenant file and runs it through the same plan/apply as
// `hnv apply -f`, so the two cannot disagree.
import {PolicyError, UsageError} from '../cli/errors.js'
import type {Progress} from '../cli/progress.js'
import {overlaps, prefixSpan} from '../model/addresses.js'
import type {ModelService} from '../model/service.js'
import {ADDRESS_FAMILIES, type AddressFamily} from '../model/types.js'
import {parseTenantFile} from '../apply/file.js'
import {planSteps, runPlan, type PlanResult} from '../apply/plan.js'
import {parsePrefix} from '../net/ip.js'
import type {Prompter} from './prompts.js'

/** Each prompt, the flag that answers it instead, and what the flag holds. */
export const ONBOARD_PROMPTS = [
  {prompt: 'tenant name', flag: '--name', value: 'NAME'},
  {prompt: 'address family', flag: '--address-family', value: ADDRESS_FAMILIES.join('|')},
  {prompt: 'subnets and their prefixes', flag: '--subnet', value: 'NAME=PREFIX[,PREFIX6] (repeat per subnet)'},
  {prompt: 'VMs per subnet and their hosts', flag: '--vm', value: 'NAME=SUBNET@HOST (repeat per VM)'},
  {prompt: 'confirmation of the plan', flag: '--yes', value: ''},
] as const

export type OnboardFlag = (typeof ONBOARD_PROMPTS)[number]['flag']

/** What the flags gave (raw). */
export interface OnboardFlags {
  name?: string
  addressFamily?: string
  subnet?: string[]
  vm?: string[]
  yes?: boolean
}

export interface OnboardAnswers {
  name: string
  addressFamily: AddressFamily
  /** Whether the VM network is new (else subnets are added to it). */
  newNetwork: boolean
  subnets: {name: string; prefix: string}[]
  vms: {name: string; subnet: string; host: string}[]
}

export interface OnboardOutcome {
  answers: OnboardAnswers
  /** The plan as shown before confirming; null when cancelled before planning. */
  plan: PlanResult
  /** The applied result; null when not confirmed. */
  applied: PlanResult | null
  commandLine: string
  file: string
}

export interface OnboardUi {
  /** Shows the plan before asking to confirm. */
  showPlan(plan: PlanResult): void
  progress?(total: number): Progress
}

/** The flags a run without a terminal still needs (in ONBOARD_PROMPTS order). */
export function missingFlags(given: OnboardFlags, service: ModelService): OnboardFlag[] {
  const existing = given.name !== undefined && service.vmNetworks().some((n) => n.Name.toLowerCase() === given.name!.toLowerCase())
  const missing: OnboardFlag[] = []
  if (given.name === undefined) missing.push('--name')
  // The family is known from an existing network or from the prefixes given.
  if (given.addressFamily === undefined && !existing && !(given.subnet && given.subnet.length > 0)) missing.push('--address-family')
  if (!given.subnet || given.subnet.length === 0) missing.push('--subnet')
  if (!given.vm || given.vm.length === 0) missing.push('--vm')
  if (!given.yes) missing.push('--yes')
  return missing
}

export function noTerminalError(missing: OnboardFlag[]): UsageError {
  const described = ONBOARD_PROMPTS.filter((p) => missing.includes(p.flag)).map((p) => (p.value ? `${p.flag} ${p.value}` : p.flag))
  return new UsageError(`no terminal to ask on: give ${described.join(', ')}; or describe the tenant in a file for hnv apply -f FILE`)
}

/** Runs the wizard: prompts (when prompter) or flags, plan, confirmation, apply. */
export async function onboard(service: ModelService, given: OnboardFlags, prompter: Prompter | null, ui: OnboardUi): Promise<OnboardOutcome> {
  if (!prompter) {
    const missing = missingFlags(given, service)
    if (missing.length > 0) throw noTerminalError(missing)
  }
  const answers = await gather(service, given, prompter)
  const file = tenantFileText(answers)
  const commandLine = commandLineOf(answers)
  const parsed = await parseTenantFile(file, 'tenant onboard')
  const plan = runPlan(service, parsed, {dryRun: true})
  ui.showPlan(plan)
  const confirmed = given.yes === true || (prompter !== null && (await prompter.confirm({message: 'Apply this plan?', default: true})))
  if (!confirmed) return {answers, plan, applied: null, commandLine, file}
  const progress = ui.progress?.(planSteps(parsed))
  try {
    const applied = runPlan(service, parsed, {dryRun: false, progress})
    return {answers, plan, applied, commandLine, file}
  } finally {
    progress?.done()
  }
}

async function gather(service: ModelService, given: OnboardFlags, prompter: Prompter | null): Promise<OnboardAnswers> {
  const ask = (): Prompter => prompter! // only reached when the flag is missing, which needs a terminal

  // Tenant name.
  const asked = given.name ?? (await ask().input({message: 'Tenant (VM network) name', validate: (v) => validName(v, 'a tenant name')}))
  const invalid = validName(asked, '--name')
  if (invalid !== true) throw new PolicyError(invalid)
  const network = service.vmNetworks().find((n) => n.Name.toLowerCase() === asked.trim().toLowerCase())
  // An existing tenant keeps its own spelling, in the names derived from it too.
  const name = network?.Name ?? asked.trim()

  // Address family: the network's when it exists, else the flag's, else what the prefixes say, else asked.
  let addressFamily: AddressFamily
  if (network) {
    if (given.addressFamily !== undefined && given.addressFamily.toLowerCase() !== network.AddressFamily.toLowerCase()) {
      throw new PolicyError(`--address-family ${given.addressFamily}: VM network '${network.Name}' exists with AddressFamily ${network.AddressFamily}`)
    }
    addressFamily = network.AddressFamily
  } else if (given.addressFamily !== undefined) {
    const match = ADDRESS_FAMILIES.find((f) => f.toLowerCase() === given.addressFamily!.toLowerCase())
    if (!match) throw new PolicyError(`--address-family '${given.addressFamily}' is not valid: use one of ${ADDRESS_FAMILIES.join(', ')}`)
    addressFamily = match
  } else if (given.subnet && given.subnet.length > 0) {
    addressFamily = familyOfPrefixes(given.subnet.map((s) => parseSubnetFlag(s, name, 1).prefix))
  } else {
    addressFamily = await ask().select({
      message: 'Address family',
      choices: ADDRESS_FAMILIES.map((f) => ({name: f, value: f, description: f === 'DualStack' ? 'An IPv4 and an IPv6 prefix per subnet' : `${f} prefixes only`})),
      default: 'IPv4',
    })
  }

  // Subnets: names unique in the store, prefixes that do not clash with the tenant's.
  const taken = network ? service.vmSubnets().filter((s) => s.VMNetwork.toLowerCase() === network.Name.toLowerCase()).map((s) => s.Prefix) : []
  const subnetNames = new Set(service.vmSubnets().map((s) => s.Name.toLowerCase()))
  const subnets: OnboardAnswers['subnets'] = []
  const nextSubnetName = () => {
    let i = 1
    while (subnetNames.has(`${name}-subnet${i}`.toLowerCase())) i++
    return `${name}-Subnet${i}`
  }
  const addSubnet = (subnet: {name: string; prefix: string}) => {
    subnetNames.add(subnet.name.toLowerCase())
    taken.push(subnet.prefix)
    subnets.push(subnet)
  }
  if (given.subnet && given.subnet.length > 0) {
    given.subnet.forEach((text, i) => addSubnet(parseSubnetFlag(text, name, i + 1, nextSubnetName())))
  } else {
    do {
      const suggested = suggestPrefix(addressFamily, taken)
      const prefix = await ask().input({
        message: `Prefix of subnet ${subnets.length + 1}${addressFamily === 'DualStack' ? ' (IPv4,IPv6)' : ''}`,
        default: suggested,
        validate: (v) => validPrefixes(v, addressFamily, taken),
      })
      addSubnet({name: nextSubnetName(), prefix: prefix.split(',').map((p) => parsePrefix(p.trim()).text).join(',')})
    } while (await ask().confirm({message: 'Add another subnet?', default: false}))
  }

  // VMs per subnet, each on a host.
  const hosts = service.hosts().map((h) => h.Name)
  const vmNames = new Set(service.vms().map((v) => v.Name.toLowerCase()))
  const vms: OnboardAnswers['vms'] = []
  if (given.vm && given.vm.length > 0) {
    for (const text of given.vm) {
      const vm = parseVmFlag(text)
      vmNames.add(vm.name.toLowerCase())
      vms.push(vm)
    }
  } else {
    if (hosts.length === 0) throw new PolicyError('there are no hosts to run VMs on: add one first (hnv host new --name host1 --provider-addresses 198.51.100.11/24)')
    for (const subnet of subnets) {
      const count = await ask().number({message: `How many VMs in ${subnet.name} (${subnet.prefix})?`, default: 2, min: 0, max: 1000})
      for (let i = 0; i < count; i++) {
        let k = 1
        while (vmNames.has(`${name}${k}`.toLowerCase())) k++
        const vmName = `${name}${k}`
        vmNames.add(vmName.toLowerCase())
        const host = hosts.length === 1 ? hosts[0] : await ask().select({message: `Host for ${vmName}`, choices: hosts.map((h) => ({name: h, value: h})), default: hosts[(vms.length) % hosts.length]})
        vms.push({name: vmName, subnet: subnet.name, host})
      }
    }
  }
  return {name, addressFamily, newNetwork: !network, subnets, vms}
}

function validName(value: string, what: string): true | string {
  if (value.trim() === '') return `${what} cannot be empty`
  if (value.includes(',')) return `${what} '${value}' cannot contain a comma`
  return true
}

/** `NAME=PREFIX[,PREFIX6]` or just the prefix(es), named <tenant>-Subnet<i>. */
export function parseSubnetFlag(text: string, tenant: string, index: number, defaultName = `${tenant}-Subnet${index}`): {name: string; prefix: string} {
  const eq = text.indexOf('=')
  const name = eq < 0 ? defaultName : text.slice(0, eq).trim()
  const prefixes = (eq < 0 ? text : text.slice(eq + 1)).split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (name === '' || prefixes.length === 0) throw new PolicyError(`--subnet '${text}' is not valid: write NAME=PREFIX, e.g. ${tenant}-Subnet1=10.0.0.0/24`)
  try {
    return {name, prefix: prefixes.map((p) => parsePrefix(p).text).join(',')}
  } catch (error) {
    throw new PolicyError(`--subnet '${text}': ${(error as Error).message}`)
  }
}

/** `NAME=SUBNET@HOST`. */
export function parseVmFlag(text: string): {name: string; subnet: string; host: string} {
  const match = /^([^=@]+)=([^=@]+)@([^=@]+)$/.exec(text.trim())
  if (!match) throw new PolicyError(`--vm '${text}' is not valid: write NAME=SUBNET@HOST, e.g. Blue1=Blue-Subnet1@host1`)
  return {name: match[1].trim(), subnet: match[2].trim(), host: match[3].trim()}
}

function familyOfPrefixes(prefixes: string[]): AddressFamily {
  const families = new Set(prefixes.flatMap((p) => p.split(',')).map((p) => parsePrefix(p).family))
  return families.size === 2 ? 'DualStack' : families.has(6) ? 'IPv6' : 'IPv4'
}

/** The first /24 of 10.0.0.0/8 (and /64 of 2001:db8:0::/48) that overlaps none of the tenant's prefixes. */
export function suggestPrefix(family: AddressFamily, taken: readonly string[]): string {
  const spans = taken.flatMap((t) => t.split(',')).map((p) => prefixSpan(p))
  const free = (prefix: string) => !spans.some((s) => overlaps(s, prefixSpan(prefix)))
  const pick = (make: (i: number) => string) => {
    for (let i = 0; i < 256; i++) if (free(make(i))) return make(i)
    return make(0)
  }
  const v4 = () => pick((i) => `10.${i}.0.0/24`)
  const v6 = () => pick((i) => parsePrefix(`2001:db8:0:${i.toString(16)}::/64`).text)
  return family === 'IPv4' ? v4() : family === 'IPv6' ? v6() : `${v4()},${v6()}`
}

function validPrefixes(value: string, family: AddressFamily, taken: readonly string[]): true | string {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p !== '')
  const wanted = family === 'DualStack' ? [4, 6] : family === 'IPv6' ? [6] : [4]
  try {
    const prefixes = parts.map((p) => parsePrefix(p))
    const families = prefixes.map((p) => p.family as number).sort()
    if (families.join() !== wanted.join()) return family === 'DualStack' ? 'give an IPv4 and an IPv6 prefix, comma-separated' : `give one ${family} prefix, e.g. ${suggestPrefix(family, taken)}`
    for (const prefix of prefixes) {
      const clash = taken.flatMap((t) => t.split(',')).find((t) => overlaps(prefixSpan(t), prefixSpan(prefix.text)))
      if (clash) return `${prefix.text} overlaps ${clash}, already a subnet of this tenant`
    }
    return true
  } catch (error) {
    return (error as Error).message
  }
}

/** The declarative file of what was asked (allocations are left to apply: the same on every store). */
export function tenantFileText(answers: OnboardAnswers): string {
  const lines = ['# hnv apply -f FILE: what `hnv tenant onboard` was asked', 'Version: 1']
  if (answers.newNetwork) lines.push('VMNetworks:', `  - Name: ${yamlText(answers.name)}`, `    AddressFamily: ${answers.addressFamily}`)
  if (answers.subnets.length > 0) {
    lines.push('VMSubnets:')
    for (const s of answers.subnets) lines.push(`  - Name: ${yamlText(s.name)}`, `    VMNetwork: ${yamlText(answers.name)}`, `    Prefix: ${s.prefix.includes(',') ? `[${s.prefix.split(',').join(', ')}]` : s.prefix}`)
  }
  if (answers.vms.length > 0) {
    lines.push('VMs:')
    for (const vm of answers.vms) lines.push(`  - {Name: ${yamlText(vm.name)}, VMSubnet: ${yamlText(vm.subnet)}, VMHost: ${yamlText(vm.host)}}`)
  }
  return lines.join('\n') + '\n'
}

/** The same tenant without questions: `hnv tenant onboard --name ... --yes`. */
export function commandLineOf(answers: OnboardAnswers): string {
  const words = ['hnv', 'tenant', 'onboard', '--name', answers.name, '--address-family', answers.addressFamily]
  for (const s of answers.subnets) words.push('--subnet', `${s.name}=${s.prefix}`)
  for (const vm of answers.vms) words.push('--vm', `${vm.name}=${vm.subnet}@${vm.host}`)
  words.push('--yes')
  return words.map(shellWord).join(' ')
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** A YAML scalar: plain when safe, else JSON-quoted (JSON strings are YAML). */
function yamlText(text: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(text) && !/^(true|false|null|yes|no|on|off|y|n)$/i.test(text) ? text : JSON.stringify(text)
}

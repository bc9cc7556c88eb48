// PowerShell syntax on a Linux command line, so an operator can paste what they ran on Windows:
//   hnv New-NetVirtualizationLookupRecord -CustomerAddress 10.0.0.5 -VirtualSubnetID:5001 -UseVmMACAddress '$false'
// becomes the topic form's `lookup-record new --customer-address 10.0.0.5 --virtual-subnet-id 5001 ...`.
// Cmdlet names and parameters are case-insensitive, parameters may be abbreviated to any unique prefix.
import {UsageError} from './errors.js'

/** Put in front of a command's arguments when it was called by its cmdlet name. */
export const CMDLET_MARKER = '--%cmdlet'

export interface FlagShape {
  type: 'boolean' | 'option'
  hidden?: boolean
  /** A switch that also has a --no- form: `-Name:$false` becomes `--no-name`. */
  allowNo?: boolean
}

export interface CommandShape {
  id: string
  aliases: string[]
}

/** Replaces a cmdlet name (any case) by its command id; returns null when argv does not start with one. */
export function routeCmdlet(argv: string[], commands: CommandShape[]): string[] | null {
  if (argv.length === 0) return null
  const helpFirst = argv[0] === 'help'
  const name = (helpFirst ? argv[1] : argv[0])?.toLowerCase()
  const command = name ? commands.find((c) => c.aliases.some((a) => a.toLowerCase() === name)) : undefined
  if (!command) return null
  if (helpFirst) return ['help', ...command.id.split(':'), ...argv.slice(2)]
  const rest = argv.slice(1)
  if (rest.some((a) => ['-?', '--help', '-help'].includes(a.toLowerCase()))) return [command.id, '--help']
  return [command.id, CMDLET_MARKER, ...rest]
}

/** The PowerShell name of a flag: customer-address -> CustomerAddress (commands may give exact names, e.g. MACAddress). */
export function pascalName(flag: string, names: Record<string, string> = {}): string {
  return names[flag] ?? flag.split('-').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')
}

/**
 * Translates PowerShell-style arguments into oclif flags. `positional` names the flags that take bare
 * values in order (PowerShell's Position=0, 1, ...).
 */
export function translateArguments(
  tokens: string[],
  flags: Record<string, FlagShape>,
  names: Record<string, string> = {},
  positional: string[] = [],
): string[] {
  const byKey = new Map(Object.keys(flags).map((flag) => [flag.replace(/-/g, '').toLowerCase(), flag]))
  const out: string[] = []
  let position = 0
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]
    if (token.startsWith('--')) {
      out.push(token)
      continue
    }
    if (!isParameter(token)) {
      const flag = positional[position++]
      if (!flag) throw new UsageError(`unexpected value '${token}': name its parameter, e.g. -${pascalName(Object.keys(flags)[0] ?? 'Name', names)} '${token}'`)
      out.push(`--${flag}`, token)
      continue
    }
    const colon = token.indexOf(':')
    const typed = colon > 0 ? token.slice(1, colon) : token.slice(1)
    const flag = resolveParameter(typed, byKey, flags, names)
    const shape = flags[flag]
    if (shape.type === 'boolean') {
      const value = colon > 0 ? token.slice(colon + 1) : '$true'
      const on = parseSwitch(value)
      if (on === null) throw new UsageError(`-${pascalName(flag, names)}:${value} is not valid: a switch takes $true or $false`)
      if (on) out.push(`--${flag}`)
      else if (shape.allowNo) out.push(`--no-${flag}`)
      continue
    }
    let value: string | undefined
    if (colon > 0) {
      value = token.slice(colon + 1)
    } else if (i + 1 < tokens.length && !isParameter(tokens[i + 1])) {
      value = tokens[++i]
    }
    if (value === undefined) {
      throw new UsageError(`-${pascalName(flag, names)} needs a value (in bash, quote PowerShell variables: '$true')`)
    }
    // `-VirtualSubnetID 5001, 6001` reaches us as '5001,' '6001': PowerShell's array syntax.
    while (value.endsWith(',') && i + 1 < tokens.length) value += tokens[++i]
    out.push(`--${flag}`, value)
  }
  return out
}

function isParameter(token: string): boolean {
  return /^-[A-Za-z?]/.test(token)
}

function parseSwitch(value: string): boolean | null {
  const text = value.toLowerCase()
  if (['$true', 'true', '1'].includes(text)) return true
  if (['$false', 'false', '0'].includes(text)) return false
  return null
}

function resolveParameter(typed: string, byKey: Map<string, string>, flags: Record<string, FlagShape>, names: Record<string, string>): string {
  const key = typed.toLowerCase()
  const exact = byKey.get(key)
  if (exact) return exact
  const matches = [...byKey.entries()].filter(([k, flag]) => k.startsWith(key) && !flags[flag].hidden).map(([, flag]) => flag)
  if (matches.length === 1) return matches[0]
  if (matches.length > 1) {
    throw new UsageError(`parameter -${typed} is ambiguous: it could be ${matches.map((f) => `-${pascalName(f, names)}`).join(', ')}`)
  }
  const visible = Object.keys(flags).filter((f) => !flags[f].hidden)
  const suggestion = closest(key, visible, (f) => f.replace(/-/g, ''))
  throw new UsageError(`unknown parameter -${typed}${suggestion ? `; did you mean -${pascalName(suggestion, names)}?` : ''} (allowed: ${visible.map((f) => `-${pascalName(f, names)}`).join(', ')})`)
}

/** The candidate nearest to typed by edit distance, when it is near enough to be a typo. */
export function closest(typed: string, candidates: string[], key: (c: string) => string = (c) => c): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(typed.toLowerCase(), key(candidate).toLowerCase())
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(typed.length / 3)) ? best : undefined
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]
}

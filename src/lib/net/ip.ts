// IP addresses and prefixes as the policy stores them: strict parsing (no classful "10.1", no octal
// "010.0.0.1"), one canonical text form (RFC 5952 for IPv6) so equality is string equality.
import {createRequire} from 'node:module'
import type * as IpAddrJs from 'ipaddr.js'

// ipaddr.js is needed for IPv6 only; commands that handle IPv4 alone never load it.
let loaded: typeof IpAddrJs | undefined
const ipaddr = (): typeof IpAddrJs => (loaded ??= createRequire(import.meta.url)('ipaddr.js') as typeof IpAddrJs)

export type Family = 4 | 6

export interface IpAddress {
  family: Family
  /** Canonical text: dotted quad, or RFC 5952 compressed lowercase IPv6. */
  text: string
  bytes: number[]
}

export interface IpPrefix {
  family: Family
  address: string
  length: number
  /** Canonical `address/length`. */
  text: string
}

/** Thrown by the parsers; callers add which parameter the value came from. */
export class AddressError extends Error {}

/** A strict dotted quad is already canonical: checked here without ipaddr.js, which imports of 100k records feel. */
const DOTTED_QUAD = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

export function parseIp(text: string): IpAddress {
  const value = text.trim()
  const quad = DOTTED_QUAD.exec(value)
  if (quad) return {family: 4, text: value, bytes: [Number(quad[1]), Number(quad[2]), Number(quad[3]), Number(quad[4])]}
  if (value.includes(':') && ipaddr().IPv6.isValid(value) && !value.includes('%')) {
    const parsed = ipaddr().IPv6.parse(value)
    return {family: 6, text: parsed.toRFC5952String(), bytes: parsed.toByteArray()}
  }
  throw new AddressError(`'${text}' is not an IPv4 address (four decimal octets 0-255) or an IPv6 address`)
}

export function isUnspecified(address: IpAddress): boolean {
  return address.bytes.every((b) => b === 0)
}

export function unspecifiedText(family: Family): string {
  return family === 4 ? '0.0.0.0' : '::'
}

export function maxPrefixLength(family: Family): number {
  return family === 4 ? 32 : 128
}

export function parsePrefixLength(text: string, family: Family): number {
  const max = maxPrefixLength(family)
  if (!/^\d{1,3}$/.test(text) || Number(text) > max) {
    throw new AddressError(`prefix length '${text}' is not a whole number from 0 to ${max}`)
  }
  return Number(text)
}

/** Parses `address/length`; a prefix with host bits set is an error that names the network meant. */
export function parsePrefix(text: string): IpPrefix {
  const value = text.trim()
  const slash = value.indexOf('/')
  if (slash < 0) throw new AddressError(`'${text}' is not a prefix: write address/length, e.g. 10.0.0.0/24`)
  let address: IpAddress
  try {
    address = parseIp(value.slice(0, slash))
  } catch {
    throw new AddressError(`'${text}' is not a prefix: '${value.slice(0, slash)}' is not an IP address`)
  }
  const length = parsePrefixLength(value.slice(slash + 1), address.family)
  const network = networkBytes(address.bytes, length)
  const networkText = bytesToText(address.family, network)
  if (networkText !== address.text) {
    throw new AddressError(`prefix '${text}' has host bits set; did you mean ${networkText}/${length}?`)
  }
  return {family: address.family, address: address.text, length, text: `${address.text}/${length}`}
}

export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  if (prefix.family !== address.family) return false
  return bytesToText(address.family, networkBytes(address.bytes, prefix.length)) === prefix.address
}

function networkBytes(bytes: number[], length: number): number[] {
  return bytes.map((byte, i) => {
    const bits = Math.max(0, Math.min(8, length - i * 8))
    return byte & ((0xff << (8 - bits)) & 0xff)
  })
}

function bytesToText(family: Family, bytes: number[]): string {
  return family === 4 ? bytes.join('.') : (ipaddr().fromByteArray(bytes) as IpAddrJs.IPv6).toRFC5952String()
}

// Address arithmetic for pools and prefixes: addresses as bigints, prefixes and ranges as spans.
import {parseIp, parsePrefix, type Family} from '../net/ip.js'

export interface Span {
  family: Family
  first: bigint
  last: bigint
}

export function bits(family: Family): bigint {
  return family === 4 ? 32n : 128n
}

export function addressValue(text: string): {family: Family; value: bigint} {
  const address = parseIp(text)
  return {family: address.family, value: address.bytes.reduce((sum, byte) => (sum << 8n) | BigInt(byte), 0n)}
}

/** The canonical text of an address value (dotted quad, RFC 5952). */
export function addressText(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.')
  const words: string[] = []
  for (let shift = 112n; shift >= 0n; shift -= 16n) words.push(((value >> shift) & 0xffffn).toString(16))
  return parseIp(words.join(':')).text
}

export function prefixSpan(text: string): Span {
  const prefix = parsePrefix(text)
  const first = addressValue(prefix.address).value
  return {family: prefix.family, first, last: first + (1n << (bits(prefix.family) - BigInt(prefix.length))) - 1n}
}

export function rangeSpan(start: string, end: string): Span {
  const a = addressValue(start)
  const b = addressValue(end)
  return {family: a.family, first: a.value, last: b.value}
}

export function overlaps(a: Span, b: Span): boolean {
  return a.family === b.family && a.first <= b.last && b.first <= a.last
}

export function contains(outer: Span, inner: Span): boolean {
  return outer.family === inner.family && outer.first <= inner.first && inner.last <= outer.last
}

/** The subnet's gateway: its lowest host address, the `.1` (reference/hnv.md §1). */
export function gatewayValue(prefix: Span): bigint {
  return prefix.first + 1n
}

/**
 * The addresses a VM may hold in a prefix: after the gateway, up to the last one (IPv4: before the
 * broadcast address). Empty (first > last) for prefixes too small to hold a VM.
 */
export function hostSpan(prefix: Span): Span {
  const size = prefix.last - prefix.first + 1n
  const last = prefix.family === 4 && size > 2n ? prefix.last - 1n : prefix.last
  return {family: prefix.family, first: prefix.first + 2n, last}
}

/** `a` or `a-b` -> a span (single address: first = last); throws AddressError for a bad address. */
export function parseSpan(text: string): Span {
  const dash = text.indexOf('-')
  if (dash < 0) {
    const {family, value} = addressValue(text)
    return {family, first: value, last: value}
  }
  return rangeSpan(text.slice(0, dash).trim(), text.slice(dash + 1).trim())
}

export function spanText(span: Span): string {
  return span.first === span.last ? addressText(span.family, span.first) : `${addressText(span.family, span.first)}-${addressText(span.family, span.last)}`
}

/** Comma-separated items, trimmed, empty ones dropped. */
export function splitList(text: string | null | undefined): string[] {
  return (text ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '')
}

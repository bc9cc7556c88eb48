// Address text <-> bytes, for reprs and tools. Views never call these: they expose a MAC as two numbers
// (hi16, lo32), an IPv4 address as a uint32 and an IPv6 address as the offset of its 16 bytes.

import {setU32, u16, u32} from './bytes.js'
import {WireError, WireErrorCode} from './errors.js'

export const MAC_LEN = 6
export const IPV6_ADDR_LEN = 16

const HEX = '0123456789abcdef'

function hex2(v: number): string {
  return HEX[v >>> 4] + HEX[v & 15]
}

function badAddress(kind: string, text: string): WireError {
  return new WireError(WireErrorCode.BAD_ADDRESS, kind + " address '" + text + "' does not parse")
}

/** 'aa:bb:cc:dd:ee:ff' from 6 bytes at `off`. */
export function macToString(buf: Uint8Array, off: number): string {
  let s = hex2(buf[off])
  for (let i = 1; i < MAC_LEN; i++) s += ':' + hex2(buf[off + i])
  return s
}

/** A MAC given as 12 hex digits, with or without ':' or '-' separators, as the views' [hi16, lo32]. */
export function macWords(text: string): [hi: number, lo: number] {
  const digits = text.replace(/[:-]/g, '')
  if (!/^[0-9a-fA-F]{12}$/.test(digits)) throw badAddress('MAC', text)
  return [parseInt(digits.slice(0, 4), 16), parseInt(digits.slice(4), 16)]
}

/** Writes a MAC given as text (see macWords). */
export function writeMac(text: string, buf: Uint8Array, off: number): void {
  const [hi, lo] = macWords(text)
  setMac(buf, off, hi, lo)
}

/** The high 16 bits of the MAC at `off` (the views' allocation-free form is hi16 + lo32). */
export function macHi(buf: Uint8Array, off: number): number {
  return u16(buf, off)
}

export function macLo(buf: Uint8Array, off: number): number {
  return u32(buf, off + 2)
}

export function setMac(buf: Uint8Array, off: number, hi: number, lo: number): void {
  buf[off] = hi >>> 8
  buf[off + 1] = hi
  buf[off + 2] = lo >>> 24
  buf[off + 3] = lo >>> 16
  buf[off + 4] = lo >>> 8
  buf[off + 5] = lo
}

export function ipv4ToString(addr: number): string {
  return (addr >>> 24) + '.' + ((addr >>> 16) & 255) + '.' + ((addr >>> 8) & 255) + '.' + (addr & 255)
}

export function ipv4FromString(text: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (m === null) throw badAddress('IPv4', text)
  let v = 0
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i])
    if (octet > 255) throw badAddress('IPv4', text)
    v = v * 256 + octet
  }
  return v
}

/** RFC 5952 text (lower case, longest run of two or more zero groups as '::', ::ffff:a.b.c.d for mapped). */
export function ipv6ToString(buf: Uint8Array, off: number): string {
  let bestAt = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && u16(buf, off + 2 * j) === 0) j++
    if (j - i > bestLen) {
      bestAt = i
      bestLen = j - i
    }
    i = j === i ? i + 1 : j
  }
  const mapped = bestAt === 0 && bestLen === 5 && u16(buf, off + 10) === 0xffff
  const groups = mapped ? 6 : 8
  let s = ''
  for (let i = 0; i < groups; i++) {
    if (i === bestAt) {
      s += '::'
      i += bestLen - 1
      continue
    }
    if (s !== '' && !s.endsWith(':')) s += ':'
    s += u16(buf, off + 2 * i).toString(16)
  }
  if (mapped) s += ':' + ipv4ToString(u32(buf, off + 12))
  return s
}

/** Writes an IPv6 address from text ('::' compression and a trailing dotted quad allowed). */
export function writeIpv6(text: string, buf: Uint8Array, off: number): void {
  let body = text
  const words: number[] = []
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted !== null) {
    const v4 = ipv4FromString(dotted[2])
    body = dotted[1] + (v4 >>> 16).toString(16) + ':' + (v4 & 0xffff).toString(16)
  }
  const halves = body.split('::')
  if (halves.length > 2) throw badAddress('IPv6', text)
  const parse = (part: string): number[] => {
    if (part === '') return []
    return part.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw badAddress('IPv6', text)
      return parseInt(g, 16)
    })
  }
  const head = parse(halves[0])
  const tail = halves.length === 2 ? parse(halves[1]) : []
  const fill = 8 - head.length - tail.length
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw badAddress('IPv6', text)
  words.push(...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail)
  for (let i = 0; i < 8; i++) {
    buf[off + 2 * i] = words[i] >>> 8
    buf[off + 2 * i + 1] = words[i] & 255
  }
}

export function ipv6FromString(text: string): Uint8Array {
  const out = new Uint8Array(IPV6_ADDR_LEN)
  writeIpv6(text, out, 0)
  return out
}

/** Compares two 16-byte IPv6 addresses in place, without allocating. */
export function ipv6Equal(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < IPV6_ADDR_LEN; i += 4) if (u32(a, aOff + i) !== u32(b, bOff + i)) return false
  return true
}

/** Copies an IPv6 address from one buffer to another, without allocating (unrolled: loops cost more). */
export function copyIpv6(from: Uint8Array, fromOff: number, to: Uint8Array, toOff: number): void {
  setU32(to, toOff, u32(from, fromOff))
  setU32(to, toOff + 4, u32(from, fromOff + 4))
  setU32(to, toOff + 8, u32(from, fromOff + 8))
  setU32(to, toOff + 12, u32(from, fromOff + 12))
}

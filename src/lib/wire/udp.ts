// UDP (RFC 768) over IPv4 or IPv6; the checksum covers a pseudo-header (checksum.ts).

import {EMPTY, setU16, u16} from './bytes.js'
import {ChecksumMode, checksumValid, fillChecksum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 768 header layout. */
export const enum Udp {
  SRC_PORT = 0,
  DST_PORT = 2,
  LENGTH = 4,
  CHECKSUM = 6,
  HEADER_LEN = 8,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const UDP_SRC_PORT = Udp.SRC_PORT
export const UDP_DST_PORT = Udp.DST_PORT
export const UDP_LENGTH = Udp.LENGTH
export const UDP_CHECKSUM = Udp.CHECKSUM
export const UDP_HEADER_LEN = Udp.HEADER_LEN

export interface UdpRepr {
  srcPort: number
  dstPort: number
  /** Bytes after the header (the length field minus 8). */
  payloadLen: number
}

export class UdpView {
  buf: Buffer = EMPTY
  off = 0
  /** off + the length field: anything after it in the IP payload is not UDP's. */
  end = 0

  /** TRUNCATED when the header or the length field overruns `end`; BAD_LENGTH when the field is below 8. */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Udp.HEADER_LEN) return WireErrorCode.TRUNCATED
    const len = u16(buf, off + Udp.LENGTH)
    if (len < Udp.HEADER_LEN) return WireErrorCode.BAD_LENGTH
    if (len > end - off) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    this.end = off + len
    return 0
  }

  get srcPort(): number {
    return u16(this.buf, this.off + Udp.SRC_PORT)
  }
  set srcPort(v: number) {
    setU16(this.buf, this.off + Udp.SRC_PORT, v)
  }
  get dstPort(): number {
    return u16(this.buf, this.off + Udp.DST_PORT)
  }
  set dstPort(v: number) {
    setU16(this.buf, this.off + Udp.DST_PORT, v)
  }
  get length(): number {
    return this.end - this.off
  }
  get checksum(): number {
    return u16(this.buf, this.off + Udp.CHECKSUM)
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + Udp.CHECKSUM, v)
  }
  get payloadOffset(): number {
    return this.off + Udp.HEADER_LEN
  }
  get payloadLen(): number {
    return this.end - this.off - Udp.HEADER_LEN
  }

  /**
   * True when the checksum is right, or absent (0: RFC 768 over IPv4; RFC 6935 allows it for tunnels over
   * IPv6, so the wire layer does not reject it and leaves the policy to the caller).
   * `pseudo`: pseudo-header sum without length (Ipv4View.pseudoSum / Ipv6View.pseudoSum).
   */
  checksumValid(pseudo: number): boolean {
    return this.checksum === 0 || checksumValid(this.buf, this.off, this.end, pseudo + this.length)
  }

  fillChecksum(pseudo: number, mode: ChecksumMode = ChecksumMode.COMPUTE): void {
    fillUdpChecksum(this.buf, this.off, this.end, pseudo, mode)
  }
}

function fillUdpChecksum(buf: Buffer, off: number, end: number, pseudo: number, mode: ChecksumMode): void {
  const v = fillChecksum(buf, off, end, off + Udp.CHECKSUM, pseudo + (end - off), mode)
  // RFC 768: a computed 0 is sent as all ones, since 0 means "no checksum".
  if (v === 0 && mode === ChecksumMode.COMPUTE) setU16(buf, off + Udp.CHECKSUM, 0xffff)
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  if (avail < Udp.HEADER_LEN) return 'UDP header needs ' + Udp.HEADER_LEN + ' bytes, ' + avail + ' available'
  const len = u16(buf, off + Udp.LENGTH)
  return code === WireErrorCode.BAD_LENGTH
    ? 'UDP length ' + len + ' is less than ' + Udp.HEADER_LEN
    : 'UDP length ' + len + ' exceeds the ' + avail + ' bytes available'
}

/** Parses the header; with `pseudo` (sum without length) a non-zero checksum is verified. */
export function parseUdp(buf: Buffer, off: number, end: number, pseudo?: number): UdpRepr {
  const v = new UdpView()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  if (pseudo !== undefined && !v.checksumValid(pseudo)) {
    throw new WireError(WireErrorCode.BAD_CHECKSUM, 'UDP checksum 0x' + v.checksum.toString(16) + ' is wrong')
  }
  return {srcPort: v.srcPort, dstPort: v.dstPort, payloadLen: v.payloadLen}
}

/**
 * Writes the 8-byte header at `off` in front of the payload already at `off + 8` (`repr.payloadLen`
 * bytes), then the checksum per `mode`; `pseudo` is the pseudo-header sum without length. Returns 8.
 */
export function emitUdp(repr: UdpRepr, buf: Buffer, off: number, pseudo: number, mode: ChecksumMode = ChecksumMode.COMPUTE): number {
  const len = Udp.HEADER_LEN + repr.payloadLen
  setU16(buf, off + Udp.SRC_PORT, repr.srcPort)
  setU16(buf, off + Udp.DST_PORT, repr.dstPort)
  setU16(buf, off + Udp.LENGTH, len)
  fillUdpChecksum(buf, off, off + len, pseudo, mode)
  return Udp.HEADER_LEN
}

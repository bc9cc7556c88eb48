// TCP (RFC 9293) header, checksum over the pseudo-header, and options far enough to read and rewrite the
// MSS (clamping it on the way into a tunnel is the reason: RFC 9293 §3.7.1).

import {EMPTY, copyBytes, setU16, setU32, u16, u32} from './bytes.js'
import {ChecksumMode, checksumUpdate16, checksumValid, fillChecksum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 9293 §3.1 header layout. */
export const enum Tcp {
  SRC_PORT = 0,
  DST_PORT = 2,
  SEQ = 4,
  ACK = 8,
  /** Data offset (high 4 bits, in 32-bit words) and the AE bit. */
  DATA_OFF = 12,
  FLAGS = 13,
  WINDOW = 14,
  CHECKSUM = 16,
  URGENT = 18,
  OPTIONS = 20,
  HEADER_LEN = 20,
  MAX_HEADER_LEN = 60,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const TCP_SRC_PORT = Tcp.SRC_PORT
export const TCP_DST_PORT = Tcp.DST_PORT
export const TCP_SEQ = Tcp.SEQ
export const TCP_ACK = Tcp.ACK
export const TCP_DATA_OFF = Tcp.DATA_OFF
export const TCP_FLAGS = Tcp.FLAGS
export const TCP_WINDOW = Tcp.WINDOW
export const TCP_CHECKSUM = Tcp.CHECKSUM
export const TCP_URGENT = Tcp.URGENT
export const TCP_OPTIONS = Tcp.OPTIONS
export const TCP_MAX_HEADER_LEN = Tcp.MAX_HEADER_LEN
export const TCP_HEADER_LEN = Tcp.HEADER_LEN

export const enum TcpFlag {
  FIN = 0x01,
  SYN = 0x02,
  RST = 0x04,
  PSH = 0x08,
  ACK = 0x10,
  URG = 0x20,
  ECE = 0x40,
  CWR = 0x80,
  /** RFC 3540 NS (now AccECN's AE): the low bit of the data offset byte, reported as bit 8 of `flags`. */
  AE = 0x100,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const TCP_FIN = TcpFlag.FIN
export const TCP_SYN = TcpFlag.SYN
export const TCP_RST = TcpFlag.RST
export const TCP_PSH = TcpFlag.PSH
export const TCP_ACK_FLAG = TcpFlag.ACK
export const TCP_URG = TcpFlag.URG
export const TCP_ECE = TcpFlag.ECE
export const TCP_CWR = TcpFlag.CWR
export const TCP_AE = TcpFlag.AE

/** Option kinds (RFC 9293 §3.2): end of list and no-op have no length byte. */
export const enum TcpOpt {
  EOL = 0,
  NOP = 1,
  MSS = 2,
  MSS_LEN = 4,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const TCP_OPT_EOL = TcpOpt.EOL
export const TCP_OPT_NOP = TcpOpt.NOP
export const TCP_OPT_MSS = TcpOpt.MSS
export const TCP_OPT_MSS_LEN = TcpOpt.MSS_LEN

export interface TcpRepr {
  srcPort: number
  dstPort: number
  seq: number
  ack: number
  /** The 9 flag bits (TcpFlag.SYN | TcpFlag.ACK ..., TcpFlag.AE). */
  flags: number
  window: number
  urgent: number
  /** Raw option bytes; emit pads them with EOL to a multiple of 4. */
  options: Uint8Array
  /** Bytes after the header, up to the end of the IP payload. */
  payloadLen: number
}

/**
 * Offset of the option of `kind` in `buf[start, end)`, -1 when absent (or after EOL), -2 when the list is
 * malformed (a length below 2 or past the end, or an MSS option whose length is not 4).
 */
export function findTcpOption(buf: Uint8Array, start: number, end: number, kind: number): number {
  let at = start
  while (at < end) {
    const k = buf[at]
    if (k === TcpOpt.EOL) return -1
    if (k === TcpOpt.NOP) {
      at++
      continue
    }
    if (at + 1 >= end) return -2
    const len = buf[at + 1]
    if (len < 2 || at + len > end || (k === TcpOpt.MSS && len !== TcpOpt.MSS_LEN)) return -2
    if (k === kind) return at
    at += len
  }
  return -1
}

export class TcpView {
  buf: Buffer = EMPTY
  off = 0
  end = 0
  headerLen = Tcp.HEADER_LEN

  /** Binds to the segment `buf[off, end)`: TRUNCATED / BAD_HEADER_LEN when the data offset is impossible. */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Tcp.HEADER_LEN) return WireErrorCode.TRUNCATED
    const headerLen = (buf[off + Tcp.DATA_OFF] >>> 4) << 2
    if (headerLen < Tcp.HEADER_LEN) return WireErrorCode.BAD_HEADER_LEN
    if (headerLen > end - off) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    this.end = end
    this.headerLen = headerLen
    return 0
  }

  get srcPort(): number {
    return u16(this.buf, this.off + Tcp.SRC_PORT)
  }
  set srcPort(v: number) {
    setU16(this.buf, this.off + Tcp.SRC_PORT, v)
  }
  get dstPort(): number {
    return u16(this.buf, this.off + Tcp.DST_PORT)
  }
  set dstPort(v: number) {
    setU16(this.buf, this.off + Tcp.DST_PORT, v)
  }
  get seq(): number {
    return u32(this.buf, this.off + Tcp.SEQ)
  }
  get ack(): number {
    return u32(this.buf, this.off + Tcp.ACK)
  }
  get flags(): number {
    return ((this.buf[this.off + Tcp.DATA_OFF] & 1) << 8) | this.buf[this.off + Tcp.FLAGS]
  }
  get window(): number {
    return u16(this.buf, this.off + Tcp.WINDOW)
  }
  get checksum(): number {
    return u16(this.buf, this.off + Tcp.CHECKSUM)
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + Tcp.CHECKSUM, v)
  }
  get urgent(): number {
    return u16(this.buf, this.off + Tcp.URGENT)
  }
  get payloadOffset(): number {
    return this.off + this.headerLen
  }
  get payloadLen(): number {
    return this.end - this.off - this.headerLen
  }

  /** The MSS option's value, or -1 when there is none (or the options are malformed). */
  get mss(): number {
    const at = findTcpOption(this.buf, this.off + Tcp.OPTIONS, this.off + this.headerLen, TcpOpt.MSS)
    return at < 0 ? -1 : u16(this.buf, at + 2)
  }

  /**
   * Rewrites the MSS option in place and patches the checksum (RFC 1624). Returns false when the segment
   * has no MSS option. Clamping is `if (v.mss > max) v.setMss(max)`.
   */
  setMss(value: number): boolean {
    const at = findTcpOption(this.buf, this.off + Tcp.OPTIONS, this.off + this.headerLen, TcpOpt.MSS)
    if (at < 0) return false
    const old = u16(this.buf, at + 2)
    // The MSS may sit at an odd offset from the header start; the checksum sums 16-bit words aligned on
    // the header, so update the two aligned words it overlaps.
    if (((at - this.off) & 1) === 0) {
      setU16(this.buf, at + 2, value)
      this.checksum = checksumUpdate16(this.checksum, old, value)
    } else {
      const w0 = at + 1
      const old0 = u16(this.buf, w0)
      const old1 = u16(this.buf, w0 + 2)
      setU16(this.buf, at + 2, value)
      const c = checksumUpdate16(this.checksum, old0, u16(this.buf, w0))
      this.checksum = checksumUpdate16(c, old1, u16(this.buf, w0 + 2))
    }
    return true
  }

  /** `pseudo`: pseudo-header sum without length. */
  checksumValid(pseudo: number): boolean {
    return checksumValid(this.buf, this.off, this.end, pseudo + (this.end - this.off))
  }
  fillChecksum(pseudo: number, mode: ChecksumMode = ChecksumMode.COMPUTE): void {
    fillChecksum(this.buf, this.off, this.end, this.off + Tcp.CHECKSUM, pseudo + (this.end - this.off), mode)
  }
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  if (avail < Tcp.HEADER_LEN) return 'TCP header needs ' + Tcp.HEADER_LEN + ' bytes, ' + avail + ' available'
  const headerLen = (buf[off + Tcp.DATA_OFF] >>> 4) << 2
  return code === WireErrorCode.BAD_HEADER_LEN
    ? 'TCP header length ' + headerLen + ' is less than ' + Tcp.HEADER_LEN
    : 'TCP header length ' + headerLen + ' exceeds the ' + avail + ' bytes available'
}

/** Parses the header and validates the option list; with `pseudo` the checksum is verified. */
export function parseTcp(buf: Buffer, off: number, end: number, pseudo?: number): TcpRepr {
  const v = new TcpView()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  if (findTcpOption(buf, off + Tcp.OPTIONS, off + v.headerLen, -1) === -2) {
    throw new WireError(WireErrorCode.BAD_OPTION, 'TCP options are malformed: a length runs past the header or an MSS is not 4 bytes')
  }
  if (pseudo !== undefined && !v.checksumValid(pseudo)) {
    throw new WireError(WireErrorCode.BAD_CHECKSUM, 'TCP checksum 0x' + v.checksum.toString(16) + ' is wrong')
  }
  return {
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    seq: v.seq,
    ack: v.ack,
    flags: v.flags,
    window: v.window,
    urgent: v.urgent,
    options: copyBytes(buf, off + Tcp.OPTIONS, off + v.headerLen),
    payloadLen: v.payloadLen,
  }
}

/**
 * Writes the header and options at `off` in front of the payload already in place (`repr.payloadLen`
 * bytes after the header), then the checksum per `mode`. Returns the header length.
 */
export function emitTcp(repr: TcpRepr, buf: Buffer, off: number, pseudo: number, mode: ChecksumMode = ChecksumMode.COMPUTE): number {
  const headerLen = Tcp.HEADER_LEN + ((repr.options.length + 3) & ~3)
  if (headerLen > Tcp.MAX_HEADER_LEN) {
    throw new WireError(WireErrorCode.BAD_OPTION, 'TCP options of ' + repr.options.length + ' bytes exceed the 40 a header can hold')
  }
  setU16(buf, off + Tcp.SRC_PORT, repr.srcPort)
  setU16(buf, off + Tcp.DST_PORT, repr.dstPort)
  setU32(buf, off + Tcp.SEQ, repr.seq)
  setU32(buf, off + Tcp.ACK, repr.ack)
  buf[off + Tcp.DATA_OFF] = ((headerLen >>> 2) << 4) | ((repr.flags >>> 8) & 1)
  buf[off + Tcp.FLAGS] = repr.flags
  setU16(buf, off + Tcp.WINDOW, repr.window)
  setU16(buf, off + Tcp.URGENT, repr.urgent)
  buf.set(repr.options, off + Tcp.OPTIONS)
  buf.fill(TcpOpt.EOL, off + Tcp.OPTIONS + repr.options.length, off + headerLen)
  const end = off + headerLen + repr.payloadLen
  fillChecksum(buf, off, end, off + Tcp.CHECKSUM, pseudo + (end - off), mode)
  return headerLen
}

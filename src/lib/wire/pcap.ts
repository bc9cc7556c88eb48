// The classic libpcap file format (draft-ietf-opsawg-pcap §4-5), so any point of the pipeline can be
// captured and opened in Wireshark or tshark. Written in little-endian with microsecond timestamps, as
// scapy and tcpdump on x86 do; the reader also takes big-endian and nanosecond files.

import {WireError, WireErrorCode} from './errors.js'

// File header (draft-ietf-opsawg-pcap §4).
export const PCAP_MAGIC = 0
export const PCAP_VERSION_MAJOR = 4
export const PCAP_VERSION_MINOR = 6
export const PCAP_SNAPLEN = 16
export const PCAP_LINKTYPE = 20
export const PCAP_FILE_HEADER_LEN = 24
// Record header (§5).
export const PCAP_TS_SEC = 0
export const PCAP_TS_FRAC = 4
export const PCAP_INCL_LEN = 8
export const PCAP_ORIG_LEN = 12
export const PCAP_RECORD_HEADER_LEN = 16

export const PCAP_MAGIC_USEC = 0xa1b2c3d4
export const PCAP_MAGIC_NSEC = 0xa1b23c4d
/** Ethernet frames (the TAP side, or the underlay with its link layer). */
export const LINKTYPE_ETHERNET = 1
/** Raw IPv4/IPv6 packets (what a GRE raw socket sends and receives). */
export const LINKTYPE_RAW = 101

/** Receives bytes in order; `(b, o, n) => fs.writeSync(fd, b, o, n)` writes a file. */
export type PcapSink = (buf: Buffer, off: number, len: number) => void

export class PcapWriter {
  /** Reused for every record, so `write` allocates nothing. */
  private readonly record = Buffer.alloc(PCAP_RECORD_HEADER_LEN)

  constructor(
    private readonly sink: PcapSink,
    readonly linkType: number = LINKTYPE_ETHERNET,
    readonly snapLen = 65535,
  ) {
    const h = Buffer.alloc(PCAP_FILE_HEADER_LEN)
    h.writeUInt32LE(PCAP_MAGIC_USEC, PCAP_MAGIC)
    h.writeUInt16LE(2, PCAP_VERSION_MAJOR)
    h.writeUInt16LE(4, PCAP_VERSION_MINOR)
    h.writeUInt32LE(snapLen, PCAP_SNAPLEN)
    h.writeUInt32LE(linkType, PCAP_LINKTYPE)
    sink(h, 0, PCAP_FILE_HEADER_LEN)
  }

  /** Records `buf[off, end)` (cut to snapLen) with the given timestamp. */
  write(buf: Buffer, off: number, end: number, tsSec: number, tsUsec: number): void {
    const orig = end - off
    const incl = orig < this.snapLen ? orig : this.snapLen
    const r = this.record
    r.writeUInt32LE(tsSec >>> 0, PCAP_TS_SEC)
    r.writeUInt32LE(tsUsec >>> 0, PCAP_TS_FRAC)
    r.writeUInt32LE(incl, PCAP_INCL_LEN)
    r.writeUInt32LE(orig, PCAP_ORIG_LEN)
    this.sink(r, 0, PCAP_RECORD_HEADER_LEN)
    this.sink(buf, off, incl)
  }
}

export interface PcapRecord {
  tsSec: number
  /** Microseconds, or nanoseconds in a nanosecond file. */
  tsFrac: number
  origLen: number
  /** A view into the file's bytes (not a copy). */
  data: Buffer
}

export interface PcapFile {
  linkType: number
  snapLen: number
  nanosecond: boolean
  records: PcapRecord[]
}

/** A whole pcap file in memory, for tools and tests. */
export function pcapFile(frames: readonly Uint8Array[], linkType: number = LINKTYPE_ETHERNET, tsSec = 0): Buffer {
  const chunks: Buffer[] = []
  const w = new PcapWriter((b, o, n) => chunks.push(Buffer.from(b.subarray(o, o + n))), linkType)
  frames.forEach((f, i) => {
    const b = Buffer.from(f.buffer, f.byteOffset, f.byteLength)
    w.write(b, 0, b.length, tsSec + i, 0)
  })
  return Buffer.concat(chunks)
}

function badPcap(message: string): WireError {
  return new WireError(WireErrorCode.BAD_PCAP, message)
}

export function readPcap(file: Uint8Array): PcapFile {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength)
  if (b.length < PCAP_FILE_HEADER_LEN) throw badPcap('pcap file header needs 24 bytes, ' + b.length + ' available')
  const le = b.readUInt32LE(PCAP_MAGIC)
  const be = b.readUInt32BE(PCAP_MAGIC)
  const little = le === PCAP_MAGIC_USEC || le === PCAP_MAGIC_NSEC
  if (!little && be !== PCAP_MAGIC_USEC && be !== PCAP_MAGIC_NSEC) {
    throw badPcap('pcap magic 0x' + be.toString(16) + ' is not a pcap file (pcapng is not read)')
  }
  const r32 = (o: number): number => (little ? b.readUInt32LE(o) : b.readUInt32BE(o))
  const records: PcapRecord[] = []
  for (let at = PCAP_FILE_HEADER_LEN; at < b.length; ) {
    if (at + PCAP_RECORD_HEADER_LEN > b.length) throw badPcap('pcap record header at ' + at + ' is cut short')
    const incl = r32(at + PCAP_INCL_LEN)
    const start = at + PCAP_RECORD_HEADER_LEN
    if (start + incl > b.length) throw badPcap('pcap record at ' + at + ' claims ' + incl + ' bytes, ' + (b.length - start) + ' remain')
    records.push({tsSec: r32(at + PCAP_TS_SEC), tsFrac: r32(at + PCAP_TS_FRAC), origLen: r32(at + PCAP_ORIG_LEN), data: b.subarray(start, start + incl)})
    at = start + incl
  }
  return {
    linkType: r32(PCAP_LINKTYPE),
    snapLen: r32(PCAP_SNAPLEN),
    nanosecond: (little ? le : be) === PCAP_MAGIC_NSEC,
    records,
  }
}

// Kernel GSO (src/lib/engine/kernel-gso.ts) against fixtures scapy made (test/fixtures/kernel-gso/
// make-fixtures.py): the tcx program's bytes (encoded there from bpf.h's numbers), the NVGRE
// super-packet and virtio header written for the underlay TAP, and what the receive side does with
// super-packets and partial checksums. As root, the program is also loaded into the kernel's verifier and
// attached to a TAP in a namespace of this test's own (hnvt-pc-<pid>-*, removed afterwards).
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {afterAll, describe, expect, it} from 'vitest'
import {GROW_FLAGS, GROW_FLAGS_V6, GsoPlan, gsoEncapRoom, RxKind, RxOffload, assembleGsoProgram, gsoPlan, writeGsoEncap} from '../../../src/lib/engine/kernel-gso.js'
import {nativeAvailable} from '../../../src/lib/engine/io/native.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/kernel-gso/cases.json')

interface EncapCase {
  name: string
  vnet: string
  frame: string
  maxInnerIp: number
  src: string
  dst: string
  key: number
  id: number
  out: string | null
}
interface ReceiveCase {
  name: string
  mtu: number
  frame: string
  kind: number
  out: string
  vnet: string | null
}
const cases = JSON.parse(readFileSync(FIXTURES, 'utf8')) as {program: {ifindex: number; mapFd: number; hex: string; hexV6: string}; encap: EncapCase[]; receive: ReceiveCase[]}

const ip4 = (text: string): Uint8Array => Uint8Array.from(text.split('.').map(Number))
/** The 16 bytes of a fixture's IPv6 address (2001:db8:ffff::NN only). */
function ip6(text: string): Uint8Array {
  const out = new Uint8Array(16)
  const [head, tail] = text.split('::')
  head.split(':').forEach((g, i) => out.set([parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff], i * 2))
  const t = parseInt(tail, 16)
  out.set([t >> 8, t & 0xff], 14)
  return out
}
const ipBytes = (text: string): Uint8Array => (text.includes(':') ? ip6(text) : ip4(text))

describe('the tcx program', () => {
  it('assembles to the instructions bpf.h numbers give', () => {
    expect(Buffer.from(assembleGsoProgram(cases.program.ifindex, cases.program.mapFd)).toString('hex')).toBe(cases.program.hex)
    expect(Buffer.from(assembleGsoProgram(cases.program.ifindex, cases.program.mapFd, true)).toString('hex')).toBe(cases.program.hexV6)
  })

  it('asks for an IPv4 (IPv6)/GRE/Ethernet(14) encapsulation with gso_size kept', () => {
    expect(GROW_FLAGS).toBe(1n | 2n | 8n | 64n | (14n << 56n))
    expect(GROW_FLAGS_V6).toBe(1n | 4n | 8n | 64n | (14n << 56n))
  })

  it('refuses an interface index that is not a positive 31-bit integer', () => {
    for (const bad of [0, -1, 1.5, 2 ** 31]) expect(() => assembleGsoProgram(bad, 3)).toThrow(RangeError)
    expect(() => assembleGsoProgram(1, -1)).toThrow(RangeError)
  })
})

describe('a super-frame for the kernel', () => {
  for (const c of cases.encap) {
    it(c.name, () => {
      const vnet = Buffer.from(c.vnet, 'hex')
      const frame = Buffer.from(c.frame, 'hex')
      const headroom = 64
      const buf = Buffer.alloc(headroom + vnet.length + frame.length)
      vnet.copy(buf, headroom)
      const at = headroom + vnet.length
      frame.copy(buf, at)
      const plan = new GsoPlan()
      const ok = gsoPlan(buf, headroom, at, buf.length, c.maxInnerIp, plan)
      expect(ok).toBe(c.out !== null)
      if (c.out === null) return
      const out = Buffer.from(c.out, 'hex')
      // The engine's pushNvgre wrote the GRE header in the headroom: take scapy's.
      const v6 = c.src.includes(':')
      const gre = at - 8
      const greAt = gsoEncapRoom(v6, 10)
      out.copy(buf, gre, greAt, greAt + 8)
      const dst = new Uint8Array(16)
      dst.set(ipBytes(c.dst))
      const v = writeGsoEncap(buf, gre, buf.length, ipBytes(c.src), dst, 0, c.id, plan, 10)
      expect(v).toBe(gre - greAt)
      expect(buf.subarray(v).toString('hex')).toBe(c.out)
      expect(plan.segmentFrameLen).toBeLessThanOrEqual(14 + c.maxInnerIp)
    })
  }

  it('is refused when the outer IPv4 total length would pass 65535', () => {
    const c = cases.encap[0]
    const plan = new GsoPlan()
    const buf = Buffer.alloc(70_000)
    expect(writeGsoEncap(buf, 100, 100 + 65_516, ip4(c.src), ip4(c.dst), 0, 1, plan, 10)).toBe(-1)
    expect(writeGsoEncap(buf, 100, 100 + 65_515, ip4(c.src), ip4(c.dst), 0, 1, plan, 10)).toBeGreaterThan(0)
    // IPv6: the payload length does not count the 40-byte header.
    expect(writeGsoEncap(buf, 100, 100 + 65_536, new Uint8Array(16), new Uint8Array(16), 0, 1, plan, 10)).toBe(-1)
    expect(writeGsoEncap(buf, 100, 100 + 65_535, new Uint8Array(16), new Uint8Array(16), 0, 1, plan, 10)).toBeGreaterThan(0)
  })
})

describe('from the underlay to a port', () => {
  for (const c of cases.receive) {
    it(c.name, () => {
      const frame = Buffer.from(c.frame, 'hex')
      const buf = Buffer.alloc(10 + frame.length)
      frame.copy(buf, 10)
      const rx = new RxOffload()
      expect(rx.prepare(buf, 10, buf.length, c.mtu, 10)).toBe(c.kind)
      expect(buf.subarray(10).toString('hex')).toBe(c.out)
      if (c.vnet !== null) expect(buf.subarray(0, 10).toString('hex')).toBe(c.vnet)
      else expect(buf.subarray(0, 10).toString('hex')).toBe('00'.repeat(10))
    })
  }

  it('reports a super-packet for a port without offloads, writing no header', () => {
    const c = cases.receive.find((r) => r.kind === RxKind.SUPER)!
    const buf = Buffer.from(c.frame, 'hex')
    expect(new RxOffload().prepare(buf, 0, buf.length, c.mtu, 0)).toBe(RxKind.SUPER)
  })
})

const isRoot = process.getuid?.() === 0
const ns = `hnvt-pc-${process.pid}-bpf`
let made = false

afterAll(() => {
  if (made) execFileSync('ip', ['netns', 'del', ns])
})

describe.skipIf(!isRoot || !nativeAvailable())('the kernel takes the program (needs root)', () => {
  it('passes the verifier and attaches to a TAP\'s tcx ingress in a namespace of its own', () => {
    execFileSync('ip', ['netns', 'add', ns])
    made = true
    // The addon's calls act in the calling process's namespace: run them in a child inside the namespace.
    const script = `
      const {GsoUnderlay} = await import(${JSON.stringify(join(dirname(fileURLToPath(import.meta.url)), '../../../src/lib/engine/io/gso-underlay.ts'))})
      for (const local of [Uint8Array.of(198, 51, 100, 1), new Uint8Array(16)]) {
        const u = GsoUnderlay.open(1, local)
        const drops = new Float64Array(4)
        u.readProgramDrops(drops)
        console.log(u.name, u.vnetLen, drops.join(','))
        u.close()
      }
    `
    const out = execFileSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], {encoding: 'utf8'})
    expect(out.trim()).toMatch(/^hnvgso0 10 0,0,0,0\nhnvgso0 10 0,0,0,0$/)
  })
})

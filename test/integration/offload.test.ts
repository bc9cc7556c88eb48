// The fast path end to end: 200 MB over TCP from one VM to another through two engines, and the SHA-256
// of what the receiver got must equal the sender's. Modes: TCP super-frames handed to the kernel whole
// (kernel-gso.ts; also with the physical veth unable to take GRE GSO, the kernel then cutting them:
// checked on the wire with tshark), segmented by the engine (--no-kernel-gso: the receiving engine
// coalesces), and MTU-sized frames only (--no-offload). Needs root; the namespaces are named
// hnvt-pc-<pid>-* and removed in afterAll, also on failure. Provider addresses from 198.51.100.0/24;
// tenant addresses only inside the VMs.
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {PHYS, Topology, classicSpec} from '../../src/lib/demo/topology.js'
import {inNs, requireTools, startInNs} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/offload.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const BYTES = 200 * 1024 * 1024
const PORT = 5201

/** Receiver: counts and hashes one connection's bytes, prints "<bytes> <sha256>" when it closes. */
const RECEIVER = `
const {createHash} = require('node:crypto')
const server = require('node:net').createServer((socket) => {
  const hash = createHash('sha256')
  let bytes = 0
  socket.on('data', (chunk) => { bytes += chunk.length; hash.update(chunk) })
  socket.on('end', () => { process.stdout.write(bytes + ' ' + hash.digest('hex') + '\\n'); server.close() })
})
server.listen(${PORT}, () => process.stdout.write('listening\\n'))
`

/** Sender: BYTES of random data in 1 MB chunks, with back-pressure; prints "<bytes> <sha256>". */
const SENDER = `
const {createHash, randomFillSync} = require('node:crypto')
const hash = createHash('sha256')
const socket = require('node:net').connect(${PORT}, process.argv[1], async () => {
  let left = ${BYTES}
  while (left > 0) {
    const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(left, 1 << 20)))
    hash.update(chunk)
    left -= chunk.length
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r))
  }
  socket.end(() => process.stdout.write(${BYTES} + ' ' + hash.digest('hex') + '\\n'))
})
socket.on('error', (e) => { console.error(e.message); process.exit(1) })
`

function node(ns: string, script: string, args: string[] = []): {done: Promise<string>; ready: Promise<void>} {
  return startInNs(ns, [process.execPath, '-e', script, ...args], 150_000)
}

const topologies: Topology[] = []

afterAll(async () => {
  const problems: string[] = []
  for (const t of topologies) problems.push(...(await t.down()))
  expect(problems).toEqual([])
}, 60_000)

// kernel: super-frames to the kernel whole (kernel-gso.ts); userspace: --no-kernel-gso; off: --no-offload;
// segmented: kernel path with the sending host's physical veth unable to take GRE GSO (and computing
// checksums in software), so the kernel cuts the super-packets there: captured on the receiving side;
// partial: the same veth still offloading checksums, so the segments arrive with partial TCP checksums
// (pseudo-header sums) that the receiving engine completes; ipv6, ipv6-segmented: the kernel path over
// IPv6 provider addresses.
const MODES = ['kernel', 'userspace', 'off', 'segmented', 'partial', 'ipv6', 'ipv6-segmented'] as const
const CAPTURED = 4000
const SHORT: Record<(typeof MODES)[number], string> = {kernel: 'ker', userspace: 'usr', off: 'off', segmented: 'seg', partial: 'par', ipv6: '6k', 'ipv6-segmented': '6s'}

describe.skipIf(!isRoot)('200 MB VM to VM through two engines (needs root)', () => {
  for (const mode of MODES) {
    it(`arrives intact (${mode})`, async () => {
      const offload = mode !== 'off'
      const spec = classicSpec()
      spec.vms = spec.vms.filter((vm) => vm.name.startsWith('Blue'))
      const v6 = mode.startsWith('ipv6')
      const segmented = mode.endsWith('segmented')
      if (v6) {
        spec.paFamily = 6
        spec.hosts[0].providerAddresses = ['2001:db8:ffff::11']
        spec.hosts[1].providerAddresses = ['2001:db8:ffff::22']
      }
      const topology = Topology.plan(spec, `hnvt-pc-${process.pid}-${SHORT[mode]}`)
      topologies.push(topology)
      await topology.up({engineArgs: mode === 'off' ? ['--no-offload'] : mode === 'userspace' ? ['--no-kernel-gso'] : ['--offload']})
      const [h1, h2] = topology.hosts
      const status = await topology.status(h1)
      expect(status.ports[0].features.tso).toBe(offload)
      const kernel = mode !== 'userspace' && mode !== 'off'
      expect(status.segmentation).toContain(kernel ? 'kernel GSO' : 'userspace')

      let capture: {done: Promise<void>; dir: string} | null = null
      if (mode === 'partial') {
        requireTools(['ethtool'], 'apt-get install -y ethtool')
        inNs(h1.ns, 'ethtool', '-K', PHYS, 'tx-gre-segmentation', 'off')
      }
      if (segmented) {
        requireTools(['ethtool', 'tshark', 'tcpdump'], 'apt-get install -y ethtool tshark tcpdump')
        inNs(h1.ns, 'ethtool', '-K', PHYS, 'tx-gre-segmentation', 'off', 'tx-checksum-ip-generic', 'off')
        const dir = mkdtempSync(join(tmpdir(), 'hnvt-pc-'))
        const child = spawn('ip', ['netns', 'exec', h2.ns, 'tcpdump', '-i', PHYS, '-c', String(CAPTURED), '-w', join(dir, 'rx.pcap'), v6 ? 'ip6 proto 47' : 'ip proto 47'], {stdio: 'ignore'})
        capture = {dir, done: new Promise((resolve) => child.on('close', () => resolve()))}
        await new Promise((r) => setTimeout(r, 1000))
      }

      const receiver = node(topology.vm('Blue2').ns, RECEIVER)
      await receiver.ready
      const sent = await node(topology.vm('Blue1').ns, SENDER, ['10.0.0.7']).done
      const received = await receiver.done
      expect(received).toBe(sent)
      expect(sent.startsWith(`${BYTES} `)).toBe(true)

      const s1 = await topology.status(h1)
      const s2 = await topology.status(h2)
      if (kernel) {
        // The sender's super-frames went to the kernel whole; the receiver got them whole (veth) or cut.
        expect(s1.offload.kernelGso.superPackets).toBeGreaterThan(0)
        // The tcx program counts the packets it had to drop, by the helper that failed: none.
        for (const name of ['programDropLoad', 'programDropShrink', 'programDropGrow', 'programDropStore']) expect(s1.offload.kernelGso[name]).toBe(0)
        if (mode === 'kernel' || mode === 'ipv6') expect(s2.offload.receive.superFrames).toBeGreaterThan(0)
        expect(status.providerAddresses[0].family).toBe(v6 ? 6 : 4)
        if (mode === 'partial') expect(s2.offload.receive.completed).toBeGreaterThan(0)
      } else if (offload) {
        // The sender's super-frames were segmented, and the receiver's engine coalesced segments.
        expect(s1.offload.segment.superframes).toBeGreaterThan(0)
        expect(s2.offload.coalesce.superframes).toBeGreaterThan(0)
      } else {
        expect(s1.offload.segment.superframes).toBe(0)
      }
      if (capture !== null) {
        await capture.done
        const vsid = s1.vsids[0].vsid
        const file = join(capture.dir, 'rx.pcap')
        const fields = inNs(h2.ns, 'tshark', '-r', file, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=;',
          '-e', 'frame.len', '-e', 'gre.key', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.len')
        rmSync(capture.dir, {recursive: true, force: true})
        const rows = fields.trim().split('\n').map((line) => line.split(';'))
        expect(rows.length).toBe(CAPTURED)
        let data = 0
        for (const [len, key, ipStatus, tcpStatus, tcpLen] of rows) {
          expect(Number(len)).toBeLessThanOrEqual(1514)
          expect(Number(key) >>> 8).toBe(vsid)
          // Outer (IPv4 only) and inner IPv4 header checksums, inner TCP checksum.
          for (const st of ipStatus.split(',')) expect(st).toBe('1')
          if (tcpStatus !== '') expect(tcpStatus).toBe('1')
          if (Number(tcpLen) > 1000) data++
        }
        // Full-sized segments cut by the kernel went by, not only ACKs.
        expect(data).toBeGreaterThan(CAPTURED / 2)
      }
      for (const s of [s1, s2]) {
        expect(s.drops['offload-unsupported']).toBe(0)
        expect(s.drops['malformed']).toBe(0)
      }
      await topology.down()
    }, 180_000)
  }
})

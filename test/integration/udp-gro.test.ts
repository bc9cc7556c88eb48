// UDP through two engines, datagram by datagram: bursts of numbered datagrams (sizes 1 to 1400 bytes,
// some bursts ending in a shorter one) from one VM to the other, and the receiver checks that every
// datagram arrives once, in order, with its length and payload. With offloads the receiving engine
// coalesces each burst into GSO_UDP_L4 super-frames (offload.ts) that the receiving VM's kernel cuts back
// into the datagrams (udp_rcv_segment); without (--no-offload) the port gets them one by one. Needs root;
// namespaces hnvt-pu-<pid>-* are removed in afterAll, also on failure. Provider addresses from
// 198.51.100.0/24; tenant addresses only inside the VMs.

import {afterAll, describe, expect, it} from 'vitest'

import {Topology, classicSpec} from '../../src/lib/demo/topology.js'
import {namespacesLeft, startInNs} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/udp-gro.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const PREFIX = `hnvt-pu-${process.pid}`
const PORT = 5301
const BURSTS = 400
const BURST = 40
const SIZES = [1, 18, 64, 200, 999, 1400]

// Datagram n: its number (4 bytes) then bytes (n * 7 + i) & 0xff up to its size; burst b's datagrams are
// SIZES[b % 6] bytes, and every third burst ends in one 5 bytes shorter (at least 5).
const SHARED = `
import socket, struct, sys, time
SIZES = ${JSON.stringify(SIZES)}
BURSTS, BURST = ${BURSTS}, ${BURST}
def size(n):
    b, k = divmod(n, BURST)
    s = max(SIZES[b % len(SIZES)], 5)
    return max(s - 5, 5) if b % 3 == 0 and k == BURST - 1 else s
def payload(n):
    s = size(n)
    return struct.pack('!I', n) + bytes(((n * 7 + i) & 0xFF) for i in range(4, s))
`

const RECEIVER = `${SHARED}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(('0.0.0.0', ${PORT}))
s.settimeout(5)
print('listening', flush=True)
want, total = 0, BURSTS * BURST
while want < total:
    try:
        data = s.recv(2048)
    except socket.timeout:
        break
    n = struct.unpack('!I', data[:4])[0] if len(data) >= 4 else -1
    if n != want:
        print('out of order or lost: got', n, 'wanted', want, flush=True)
        sys.exit(1)
    if data != payload(n):
        print('datagram', n, 'length', len(data), 'wanted', size(n), 'or wrong bytes', flush=True)
        sys.exit(1)
    want += 1
print('received', want, flush=True)
`

/** Bursts of BURST datagrams, a pause between them so nothing overflows a queue. */
const SENDER = `${SHARED}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], ${PORT}))
for b in range(BURSTS):
    for k in range(BURST):
        s.send(payload(b * BURST + k))
    time.sleep(0.004)
print('sent', BURSTS * BURST, flush=True)
`

function python(ns: string, script: string, args: string[] = []): {done: Promise<string>; ready: Promise<void>} {
  return startInNs(ns, ['/usr/bin/python3', '-c', script, ...args], 60_000)
}

const topologies: Topology[] = []

afterAll(async () => {
  const problems: string[] = []
  for (const t of topologies) problems.push(...(await t.down()))
  expect(problems).toEqual([])
  expect(namespacesLeft(PREFIX)).toEqual([])
}, 60_000)

describe.skipIf(!isRoot)('UDP datagrams VM to VM through two engines, each intact and in order (needs root)', () => {
  for (const mode of ['offload', 'no-offload'] as const) {
    it(`${BURSTS * BURST} datagrams (${mode})`, async () => {
      const spec = classicSpec()
      spec.vms = spec.vms.filter((vm) => vm.name.startsWith('Blue'))
      const topology = Topology.plan(spec, `${PREFIX}-${mode === 'offload' ? 'on' : 'off'}`)
      topologies.push(topology)
      await topology.up({engineArgs: mode === 'offload' ? ['--offload'] : ['--no-offload']})
      const [h1, h2] = topology.hosts
      const before = await topology.status(h2)
      const port = before.ports[0]
      expect(port.features.uso).toBe(mode === 'offload')

      const receiver = python(topology.vm('Blue2').ns, RECEIVER)
      await receiver.ready
      const sent = await python(topology.vm('Blue1').ns, SENDER, ['10.0.0.7']).done
      expect(sent).toBe(`sent ${BURSTS * BURST}`)
      expect(await receiver.done).toBe(`received ${BURSTS * BURST}`)

      const s1 = await topology.status(h1)
      const s2 = await topology.status(h2)
      if (mode === 'offload') {
        // Bursts arrive at the receiving engine in batches: most datagrams went into super-frames.
        expect(s2.offload.coalesce.udpSuperframes).toBeGreaterThan(0)
        expect(s2.offload.coalesce.udpDatagrams).toBeGreaterThan((BURSTS * BURST) / 2)
      } else {
        expect(s2.offload.coalesce.framesIn).toBe(0)
      }
      // The VMs' own chatter (router solicitations and the like) may be dropped; nothing of the datagrams.
      for (const s of [s1, s2]) {
        expect(s.drops['malformed']).toBe(0)
        expect(s.drops['offload-unsupported']).toBe(0)
        expect(s.ports[0].io.txErrors).toBe(0)
      }
      // One write per super-frame: the receiving port took far fewer frames than datagrams.
      if (mode === 'offload') expect(s2.ports[0].txPackets).toBeLessThan(BURSTS * BURST)
      else expect(s2.ports[0].txPackets).toBeGreaterThanOrEqual(BURSTS * BURST)
      await topology.down()
    }, 120_000)
  }
})

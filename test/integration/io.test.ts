// The real I/O layer against the kernel: a TAP moved into a "VM" namespace, raw GRE sockets in two
// namespaces joined by a veth, and prompt process exit after close. Needs root; builds everything
// in namespaces named hnvt-io-<pid>-* and removes them in afterAll, also on failure.
import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseIp} from '../../src/lib/net/ip.js'
import {IoStat, type PacketBatch, type RxBatch} from '../../src/lib/engine/ports.js'
import {TapPort} from '../../src/lib/engine/io/tap-port.js'
import {addressText, nvgrePacket} from './fixtures/util.js'
import {inNs, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/io.test.ts: skipped, needs root (network namespaces, TAPs, raw sockets)')
const repo = fileURLToPath(new URL('../..', import.meta.url))
const prefix = `hnvt-io-${process.pid}`
const NS_VM = `${prefix}-vm` // the TAP's "VM"
const NS_A = `${prefix}-a` // host A: GRE sender, and where the exit test opens its TAP
const NS_B = `${prefix}-b` // host B: GRE receiver
const ALL_NS = [NS_VM, NS_A, NS_B]
// Interface names are at most 15 bytes: hio<pid><role>.
const TAP_VM = `hio${process.pid}t`
const TAP_VNET = `hio${process.pid}v`
const TAP_HOST = `hio${process.pid}h`
const TAP_DOWN = `hio${process.pid}d`
const VETH_A = `hio${process.pid}a`
const VETH_B = `hio${process.pid}b`

// Physical (PA) addresses from the documentation ranges; the tenant address lives only in NS_VM.
const PA = {a4: '198.51.100.1', b4: '198.51.100.2', a6: '2001:db8:66::1', b6: '2001:db8:66::2'}
const VM_IP = '10.66.0.1'
const NEIGHBOUR_IP = '10.66.0.2'
const NEIGHBOUR_MAC = Buffer.from('00005e005302', 'hex') // RFC 7042 documentation MAC

function ip(...args: string[]): string {
  return execFileSync('ip', args, {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
}

function tryRun(fn: () => unknown): void {
  try {
    fn()
  } catch {
    // cleanup: the object may not exist
  }
}

/** A fixture script run by node+tsx inside a namespace, with its stdout as lines. */
function runFixture(ns: string, script: string, arg: unknown) {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, '--import', 'tsx', `test/integration/fixtures/${script}`, JSON.stringify(arg)],
    {cwd: repo, stdio: ['ignore', 'pipe', 'pipe']},
  )
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const lines = createInterface({input: child.stdout})[Symbol.asyncIterator]()
  const exited = once(child, 'exit').then(([code]) => ({code: code as number | null, at: performance.now(), stderr}))
  return {
    child,
    exited,
    async nextLine(): Promise<string> {
      const next = await lines.next()
      if (next.done) throw new Error(`${script} ended without output: ${stderr}`)
      return next.value
    },
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function ourLeftovers(): string[] {
  const namespaces = ip('netns', 'list')
    .split('\n')
    .filter((line) => line.startsWith(prefix))
  const links = ip('-o', 'link', 'show')
    .split('\n')
    .filter((line) => line.includes(`hio${process.pid}`))
  return [...namespaces, ...links]
}

const ETH_ARP = 0x0806
const ETH_IPV4 = 0x0800

/** The ICMP/IP one's-complement sum (RFC 1071) of buf[start, end). */
function checksum(buf: Buffer, start: number, end: number): number {
  let sum = 0
  for (let i = start; i < end; i += 2) sum += (buf[i] << 8) | (i + 1 < end ? buf[i + 1] : 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

describe.skipIf(!isRoot)('native I/O against the kernel (needs root: namespaces, TAPs, raw sockets)', () => {
  const ports: TapPort[] = []

  beforeAll(() => {
    // Fail with the reason, not with an exec error deep inside a test.
    requireTools(['ping', 'ip'], 'apt-get install iputils-ping iproute2')
    for (const ns of ALL_NS) ip('netns', 'add', ns)
    ip('link', 'add', VETH_A, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VETH_B, 'netns', NS_B)
    for (const [ns, dev, v4, v6] of [
      [NS_A, VETH_A, PA.a4, PA.a6],
      [NS_B, VETH_B, PA.b4, PA.b6],
    ]) {
      ip('-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev)
      ip('-n', ns, '-6', 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad')
      ip('-n', ns, 'link', 'set', dev, 'up')
      ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
  })

  afterAll(() => {
    for (const port of ports) port.close()
    for (const ns of ALL_NS) tryRun(() => ip('netns', 'del', ns))
    // A TAP that never left the root namespace goes away with its fd; this catches anything else.
    for (const dev of [TAP_VM, TAP_VNET, TAP_HOST, TAP_DOWN]) tryRun(() => ip('link', 'del', dev))
    const left = ourLeftovers()
    if (left.length > 0) throw new Error(`left behind: ${left.join('; ')}`)
  })

  for (const vnetHdr of [false, true]) {
    const tapName = vnetHdr ? TAP_VNET : TAP_VM
    it(`a TAP moved into a VM namespace carries ARP and ping both ways (vnetHdr: ${vnetHdr})`, async () => {
      // Opened here (root namespace), down so the root namespace never configures it, then moved.
      const port = TapPort.open({name: tapName, up: false, vnetHdr, batchSize: 16})
      ports.push(port)
      expect(port.name).toBe(tapName)
      expect(port.features).toMatchObject(
        vnetHdr ? {vnetHdr: true, vnetHdrLen: 10, csum: true, tso: true} : {vnetHdr: false, vnetHdrLen: 0, tso: false},
      )
      const hdr = port.features.vnetHdrLen
      ip('link', 'set', 'dev', tapName, 'netns', NS_VM)
      ip('-n', NS_VM, 'addr', 'add', `${VM_IP}/24`, 'dev', tapName)
      ip('-n', NS_VM, 'link', 'set', tapName, 'up')
      const link = JSON.parse(ip('-n', NS_VM, '-j', 'link', 'show', 'dev', tapName))[0]
      const vmMac = Buffer.from(link.address.replaceAll(':', ''), 'hex')

      // One preallocated transmit batch; answers are built in it inside the receive callback, each
      // behind an all-zero virtio_net_hdr (no offload requested) when the TAP has one.
      const tx: PacketBatch = {buffer: Buffer.alloc(4096), offsets: new Uint32Array(2), lengths: new Uint32Array(2), count: 0}
      const ARP_AT = 64
      const ECHO_AT = 2048
      // Assertions inside the callback would throw into the event loop: record, check afterwards.
      const seen = {arpRequests: 0, echoRequests: 0, problems: [] as string[]}
      const onBatch = (batch: RxBatch): void => {
        for (let i = 0; i < batch.count; i++) {
          const start = batch.offsets[i]
          if (hdr > 0 && batch.buffer[start + 1] !== 0) seen.problems.push('a GSO frame from ping/ARP')
          const frame = batch.buffer.subarray(start + hdr, start + batch.lengths[i])
          const type = frame.readUInt16BE(12)
          if (type === ETH_ARP && frame.readUInt16BE(20) === 1 && addressText(4, frame, 38) === NEIGHBOUR_IP) {
            if (!frame.subarray(6, 12).equals(vmMac) || addressText(4, frame, 28) !== VM_IP) {
              seen.problems.push(`unexpected ARP request ${frame.toString('hex')}`)
            }
            seen.arpRequests++
            // ARP reply from the made-up neighbour.
            const reply = tx.buffer.subarray(ARP_AT, ARP_AT + 42)
            vmMac.copy(reply, 0)
            NEIGHBOUR_MAC.copy(reply, 6)
            reply.writeUInt16BE(ETH_ARP, 12)
            Buffer.from('0001080006040002', 'hex').copy(reply, 14)
            NEIGHBOUR_MAC.copy(reply, 22)
            frame.copy(reply, 28, 38, 42) // sender IP = the asked-for address
            vmMac.copy(reply, 32)
            frame.copy(reply, 38, 28, 32) // target IP = the asker
            tx.offsets[0] = ARP_AT - hdr
            tx.lengths[0] = hdr + 42
            if (port.send(tx, 0, 1) !== 1) seen.problems.push(`ARP reply not written: ${port.lastErrno}`)
          } else if (type === ETH_IPV4 && frame[23] === 1 && frame[34] === 8) {
            // ICMP echo request to the neighbour: answer it (swap addresses, type 0, new checksum).
            if (!frame.subarray(0, 6).equals(NEIGHBOUR_MAC)) seen.problems.push('echo request not to the neighbour MAC')
            seen.echoRequests++
            const reply = tx.buffer.subarray(ECHO_AT, ECHO_AT + frame.length)
            frame.copy(reply)
            vmMac.copy(reply, 0)
            NEIGHBOUR_MAC.copy(reply, 6)
            frame.copy(reply, 26, 30, 34)
            frame.copy(reply, 30, 26, 30)
            reply[34] = 0
            reply.writeUInt16BE(0, 36)
            reply.writeUInt16BE(checksum(reply, 34, reply.length), 36)
            tx.offsets[1] = ECHO_AT - hdr
            tx.lengths[1] = hdr + frame.length
            if (port.send(tx, 1, 1) !== 1) seen.problems.push(`echo reply not written: ${port.lastErrno}`)
          }
        }
      }
      port.start(onBatch)

      const rxBefore = JSON.parse(ip('-n', NS_VM, '-s', '-j', 'link', 'show', 'dev', tapName))[0].stats64.rx.packets
      const ping = spawn('ip', ['netns', 'exec', NS_VM, 'ping', '-c', '3', '-i', '0.2', '-W', '2', NEIGHBOUR_IP], {
        stdio: 'ignore',
      })
      const [code] = await once(ping, 'exit')

      expect(seen.problems).toEqual([])
      expect(seen.arpRequests).toBeGreaterThanOrEqual(1)
      expect(seen.echoRequests).toBe(3)
      expect(code).toBe(0) // every echo request got our reply
      const neighbour = JSON.parse(ip('-n', NS_VM, '-j', 'neigh', 'show', NEIGHBOUR_IP, 'dev', tapName))[0]
      expect(neighbour.lladdr).toBe('00:00:5e:00:53:02')
      const rxAfter = JSON.parse(ip('-n', NS_VM, '-s', '-j', 'link', 'show', 'dev', tapName))[0].stats64.rx.packets
      expect(rxAfter - rxBefore).toBeGreaterThanOrEqual(1 + 3)
      expect(port.stats[IoStat.TX_PACKETS]).toBe(seen.arpRequests + 3)
      expect(port.stats[IoStat.RX_PACKETS]).toBeGreaterThanOrEqual(seen.arpRequests + 3)
      expect(port.stats[IoStat.RX_TRUNCATED] + port.stats[IoStat.RX_ERRORS] + port.stats[IoStat.TX_ERRORS]).toBe(0)

      // Closing the fd deletes the TAP, wherever it lives now.
      port.close()
      await waitFor('the TAP to disappear', () => !ip('-n', NS_VM, '-o', 'link', 'show').includes(tapName))
    })
  }

  it('counts a frame for a TAP that is down (a VM shut down: EIO) as txLinkDown, not as an error, and sends once it is up', () => {
    const port = TapPort.open({name: TAP_DOWN, up: false, vnetHdr: false, batchSize: 4})
    ports.push(port)
    ip('link', 'set', 'dev', TAP_DOWN, 'netns', NS_VM)
    // A broadcast frame: any frame will do, the kernel refuses it before looking.
    const tx: PacketBatch = {buffer: Buffer.alloc(64), offsets: Uint32Array.of(0), lengths: Uint32Array.of(60), count: 1}
    tx.buffer.fill(0xff, 0, 6)
    tx.buffer.writeUInt16BE(ETH_ARP, 12)
    expect(port.send(tx, 0, 1)).toBe(0)
    expect(port.stats[IoStat.TX_LINK_DOWN]).toBe(1)
    expect(port.stats[IoStat.TX_ERRORS]).toBe(0)
    ip('-n', NS_VM, 'link', 'set', TAP_DOWN, 'up')
    expect(port.send(tx, 0, 1)).toBe(1)
    expect(port.stats[IoStat.TX_PACKETS]).toBe(1)
    expect(port.stats[IoStat.TX_LINK_DOWN]).toBe(1)
  })

  for (const family of [4, 6] as const) {
    it(`sends a batch of GRE packets over IPv${family} with sendmmsg and receives it with recvmmsg`, async () => {
      const [src, dst] = family === 4 ? [PA.a4, PA.b4] : [PA.a6, PA.b6]
      // Small to larger than the veth MTU (the kernel fragments and reassembles those); 12 packets
      // through a receiver with batchSize 8 takes at least two wakeups.
      const sizes = [8, 60, 64, 100, 500, 1000, 1400, 1442, 1450, 1460, 1600, 3000]
      const receiver = runFixture(NS_B, 'gre-recv.ts', {family, local: dst, expect: sizes.length, timeoutMs: 10_000})
      expect(await receiver.nextLine()).toBe('ready')

      const sender = runFixture(NS_A, 'gre-send.ts', {family, local: src, dst, sizes})
      const sent = JSON.parse(await sender.nextLine())
      expect(sent).toMatchObject({sent: sizes.length, lastErrno: 0})
      expect((await sender.exited).code).toBe(0)

      const received = JSON.parse(await receiver.nextLine()) as {
        packets: {length: number; src: string; dst: string; head: string}[]
        batches: number
        stats: number[]
      }
      expect((await receiver.exited).code).toBe(0)
      expect(received.packets.map((p) => p.length)).toEqual(sizes)
      for (const [k, packet] of received.packets.entries()) {
        expect(parseIp(packet.src).text).toBe(src)
        expect(parseIp(packet.dst).text).toBe(dst)
        // The GRE header as sent: the outer IP header is gone for both families.
        expect(packet.head).toBe(nvgrePacket(8, k).toString('hex'))
      }
      expect(received.batches).toBeGreaterThanOrEqual(2)
      expect(received.stats[IoStat.RX_PACKETS]).toBe(sizes.length)
    })
  }

  it('lets a process exit promptly after its readers are stopped and fds closed', async () => {
    const child = runFixture(NS_A, 'open-close.ts', {tap: TAP_HOST, holdMs: 300})
    const opened = JSON.parse(await child.nextLine())
    expect(opened.open).toBe(TAP_HOST)
    // The TAP exists in the child's namespace while it is open.
    expect(ip('-n', NS_A, '-o', 'link', 'show')).toContain(TAP_HOST)
    expect(JSON.parse(await child.nextLine())).toMatchObject({closed: true})
    const closedAt = performance.now()
    const exit = await child.exited
    expect(exit.code).toBe(0)
    expect(exit.at - closedAt).toBeLessThan(1000)
    expect(ip('-n', NS_A, '-o', 'link', 'show')).not.toContain(TAP_HOST)
  })
})

// `hnv mtu check` over an in-memory store, with the probes answered by a model of the path instead of ping
// (the namespace test in test/integration/rules.test.ts runs the real pings).
import {describe, expect, it} from 'vitest'
import {mtuCheck, type Prober} from '../../../src/lib/engine/mtu-check.js'
import type {LocalAddress} from '../../../src/lib/engine/runtime/host.js'
import {parseIp} from '../../../src/lib/net/ip.js'
import {demoService, HOST1_PA} from '../../support/policy.js'

const local = (mtu: number): LocalAddress[] => [
  {address: HOST1_PA, family: 4, bytes: Uint8Array.from(parseIp(HOST1_PA).bytes), interfaceName: 'eth0', interfaceIndex: 2, mtu, prefixLength: 24},
]

/** A path that carries packets up to `pathMtu` bytes; every probe is recorded. */
function path(pathMtu: number | null, probes: number[] = []): Prober {
  return async (_l, _remote, size) => {
    probes.push(size)
    return pathMtu !== null && size <= pathMtu
  }
}

describe('hnv mtu check', () => {
  it('finds 1458 for the VMs over a clean 1500-byte path, and says the 1500-byte TAPs are too big', async () => {
    const store = demoService().store
    const rows = await mtuCheck(store, {prober: path(1500), tapMtu: 1500}, local(1500))
    expect(rows.map((r) => [r.LocalProviderAddress, r.RemoteProviderAddress, r.LinkMTU, r.PathMTU, r.VMMTU, r.TapMTU])).toEqual([[HOST1_PA, '198.51.100.22', 1500, 1500, 1458, 1500]])
    expect(rows[0].Status).toMatch(/^too big: the VMs' MTU 1500 is above 1458; start the engine with --tap-mtu 1458/)
    expect((await mtuCheck(store, {prober: path(1500)}, local(1500)))[0].Status).toBe('ok')
  })

  it('searches the path MTU below the link MTU and names it', async () => {
    const probes: number[] = []
    const [row] = await mtuCheck(demoService().store, {prober: path(1400, probes)}, local(1500))
    expect([row.PathMTU, row.VMMTU, row.TapMTU]).toEqual([1400, 1358, 1458])
    expect(row.Status).toMatch(/the path to 198.51.100.22 carries 1400 of the link's 1500 bytes; too big: the VMs' MTU 1458 is above 1358/)
    expect(probes.length).toBeLessThan(14)
  })

  it('reports an unreachable peer, and takes the link MTU without probing', async () => {
    const store = demoService().store
    expect((await mtuCheck(store, {prober: path(null)}, local(9000)))[0]).toMatchObject({PathMTU: null, Status: expect.stringMatching(/^unreachable/)})
    expect((await mtuCheck(store, {probe: false}, local(9000)))[0]).toMatchObject({PathMTU: null, VMMTU: 8958, TapMTU: 8958, Status: 'ok'})
  })
})

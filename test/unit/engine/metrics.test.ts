// The Prometheus endpoint: the engine's status served at /metrics, scraped over HTTP and parsed by the
// official Python client's parser (python3-prometheus-client), not by our own code.
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import {MetricsServer, METRICS_CONTENT_TYPE, parseMetricsAddress} from '../../../src/lib/control/metrics.js'
import type {RuntimeStatus} from '../../../src/lib/control/protocol.js'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {MemoryPort} from '../../support/memory-port.js'
import {MemoryNetwork} from '../../support/memory-underlay.js'
import {HOST1_PA, ping4, topology, VMS} from './support.js'

const PARSER = fileURLToPath(new URL('../../fixtures/metrics/parse.py', import.meta.url))
const hasParser = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import prometheus_client'], {stdio: 'ignore'})
    return existsSync(PARSER)
  } catch {
    return false
  }
})()
if (!hasParser) console.warn('test/unit/engine/metrics.test.ts: parsing skipped, needs python3-prometheus-client')

let server: MetricsServer | null = null
let engine: Engine | null = null
afterEach(() => {
  server?.close()
  engine?.close()
  server = null
  engine = null
})

/** An engine over host1's table that has seen one packet delivered and one dropped, as the runtime reports it. */
function status(): RuntimeStatus {
  const network = new MemoryNetwork()
  engine = new Engine({underlays: [network.underlay({family: 4, local: HOST1_PA})]})
  engine.load(compile(topology(1), 7))
  const port = new MemoryPort({name: 'hnv-blue1'})
  engine.attach(port)
  port.receive(ping4(VMS.blue1, VMS.blue2.mac, '10.0.0.7'), ping4(VMS.blue1, VMS.blue2.mac, '10.0.0.99'))
  const core = engine.status()
  return {
    pid: 1,
    store: '/tmp/x.db',
    socket: '/run/hnv/x.sock',
    startedAt: new Date(0).toISOString(),
    uptimeSeconds: 5,
    revision: 7,
    storeRevision: 7,
    lastApply: {revision: 7, appliedAt: 0, loadMs: 1, load: 'all', swapMs: 0},
    lastError: null,
    tapMtu: 1458,
    providerAddresses: [{address: HOST1_PA, interface: 'eth0', interfaceIndex: 2, linkMtu: 1500, ...core.underlays[0]}],
    ports: core.ports.map((p) => ({...p, mtu: 1458})),
    vsids: core.vsids,
    drops: core.drops,
    replies: core.replies,
    records: core.records,
    offload: core.offload,
    flowCache: core.flowCache,
  } as RuntimeStatus
}

describe('metrics endpoint', () => {
  it('parses HOST:PORT', () => {
    expect(parseMetricsAddress('127.0.0.1:9464')).toEqual({host: '127.0.0.1', port: 9464})
    expect(parseMetricsAddress('[::1]:9464')).toEqual({host: '::1', port: 9464})
    expect(() => parseMetricsAddress('9464')).toThrow('--metrics 9464 is not HOST:PORT')
  })

  it('serves /metrics in the text format, which the Prometheus client parses', async () => {
    const snapshot = status()
    server = await MetricsServer.listen({host: '127.0.0.1', port: 0}, () => snapshot)
    const base = `http://127.0.0.1:${server.address.port}`
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(METRICS_CONTENT_TYPE)
    const text = await res.text()
    expect(text).toContain('# TYPE hnv_vsid_packets_total counter')
    expect((await fetch(`${base}/`)).status).toBe(404)
    if (!hasParser) return
    const families = JSON.parse(execFileSync('/usr/bin/python3', [PARSER], {input: text, encoding: 'utf8'})) as Record<
      string,
      {type: string; help: string; samples: [string, Record<string, string>, number][]}
    >
    // The client strips _total from counter family names.
    expect(families.hnv_vsid_packets.type).toBe('counter')
    expect(families.hnv_vsid_packets.samples).toContainEqual(['hnv_vsid_packets_total', {vsid: '5001'}, 2])
    expect(families.hnv_vsid_drops.samples).toContainEqual(['hnv_vsid_drops_total', {vsid: '5001'}, 1])
    expect(families.hnv_drops.samples).toContainEqual(['hnv_drops_total', {reason: 'no-record'}, 1])
    expect(families.hnv_port_rx_packets.samples).toContainEqual(['hnv_port_rx_packets_total', {port: 'hnv-blue1', vm: 'Blue1', adapter: 'Network Adapter', vsid: '5001'}, 2])
    expect(families.hnv_port_drops.samples[0][2]).toBe(1)
    expect(families.hnv_lookup_record_packets.samples).toEqual([['hnv_lookup_record_packets_total', {customer_address: '10.0.0.7', vsid: '5001', provider_address: '198.51.100.22'}, 1]])
    expect(families.hnv_policy_revision.samples).toEqual([['hnv_policy_revision', {}, 7]])
    expect(families.hnv_io.samples.some(([, labels]) => labels.endpoint === 'underlay' && labels.name === HOST1_PA)).toBe(true)
    // Both pings were new flows: the first stored, the second (no record) dropped by the full pipeline.
    expect(families.hnv_flow_cache.samples).toContainEqual(['hnv_flow_cache_total', {stat: 'misses'}, 2])
    expect(families.hnv_flow_cache.samples).toContainEqual(['hnv_flow_cache_total', {stat: 'stores'}, 1])
    expect(families.hnv_offload.samples).toContainEqual(['hnv_offload_total', {kind: 'kernelGso', stat: 'superPackets'}, 0])
  })
})

// The objects the forwarding path reads properties of stay in V8's fast mode. An object in dictionary
// mode (too many keyed stores, accessors in a literal, accessors its shape's other objects do not share)
// turns every `DropReason.X` or `t.records.pa` in optimised code into a generic hash lookup: BENCHMARKS.md
// found 6 % of the encapsulation path there. Checked in a child process with %HasFastProperties.
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

const SRC = fileURLToPath(new URL('../../../src/lib/engine/', import.meta.url))

const SCRIPT = `
const {compile} = await import(${JSON.stringify(SRC + 'compile.ts')})
const stages = await import(${JSON.stringify(SRC + 'stages.ts')})
const {Action, FloodKind, Verdict, Pipeline} = await import(${JSON.stringify(SRC + 'pipeline.ts')})
const {FlowCache} = await import(${JSON.stringify(SRC + 'flow-cache.ts')})
const fast = (o) => %HasFastProperties(o)
const doc = {
  Version: 1,
  LookupRecords: [
    {CustomerAddress: '10.0.0.5', VirtualSubnetID: 5001, MACAddress: '060600000005', ProviderAddress: '198.51.100.11', Rule: 'TranslationMethodEncap', VMName: 'Blue1', Type: 'Static'},
    {CustomerAddress: '10.0.0.7', VirtualSubnetID: 5001, MACAddress: '060600000007', ProviderAddress: '198.51.100.22', Rule: 'TranslationMethodEncap', VMName: 'Blue2', Type: 'Static'},
  ],
  CustomerRoutes: [{RoutingDomainID: '{11111111-2222-3333-4444-000000005001}', VirtualSubnetID: 5001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255}],
  ProviderAddresses: [{ProviderAddress: '198.51.100.11', InterfaceIndex: 2, PrefixLength: 24}],
  VMNetworkAdapters: [{VMName: 'Blue1', Name: 'Network Adapter', MacAddress: '060600000005', VirtualSubnetId: 5001, InterfaceName: 'hnv-blue1'}],
}
const slow = []
const check = (name, o) => { if (!fast(o)) slow.push(name) }
for (const [name, value] of Object.entries({...stages, Action, FloodKind})) if (value && typeof value === 'object' && !Array.isArray(value)) check(name, value)
// Every table, not only the first: a table's objects share their shapes with the earlier ones'.
for (let revision = 1; revision <= 3; revision++) {
  const t = compile(doc, revision)
  check('table', t)
  for (const [name, value] of Object.entries(t)) if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value)) check('table.' + name + ' (revision ' + revision + ')', value)
}
check('Verdict', new Verdict())
check('Pipeline', new Pipeline())
check('FlowCache', new FlowCache())
console.log(JSON.stringify(slow))
`

describe('V8 fast mode', () => {
  it('holds for the enums, every compiled table and its column sets, the Verdict, Pipeline and FlowCache', () => {
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', SCRIPT], {encoding: 'utf8'})
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual([])
  })
})

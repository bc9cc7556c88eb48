import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import type {Result} from '../../lib/cli/output.js'
import {NEXT_HOP_PROPERTIES, selectNextHop} from '../../lib/engine/next-hop.js'
import {loadForwardingTable} from '../../lib/engine/policy-source.js'

export default class NextHopSelect extends PolicyCommand {
  static override summary = 'Show the next hop (CA and MAC) of a destination customer address from a virtual subnet (Select-NetVirtualizationNextHop)'
  static override description =
    "Answered by the engine's own route and resolve steps over the policy compiled from the store; no engine needs to run. " +
    'When there is no next hop, the error names the missing policy and the command that adds it.'
  static override aliases = ['Select-NetVirtualizationNextHop']
  static override flags = {
    'source-customer-address': Flags.string({description: 'Customer address of the source VM (its lookup record gives SourceMACAddress)'}),
    'destination-customer-address': Flags.string({required: true, description: 'Customer address of the destination (required)'}),
    'source-virtual-subnet-id': Flags.integer({required: true, min: 0, max: 16_777_215, description: 'Virtual subnet ID of the source (required)'}),
  }
  static override psNames = {'source-virtual-subnet-id': 'SourceVirtualSubnetID'}
  static override psPositional = ['source-customer-address', 'destination-customer-address', 'source-virtual-subnet-id']

  async execute(flags: AnyFlags): Promise<Result> {
    const table = loadForwardingTable(this.service(flags).store)
    const lookup = selectNextHop(table, flags['source-customer-address'] ?? null, flags['destination-customer-address'], flags['source-virtual-subnet-id'])
    return {rows: [{...lookup}], columns: [...NEXT_HOP_PROPERTIES], single: true}
  }
}

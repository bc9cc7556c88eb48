import {removeCommand} from '../../lib/cli/policy-command.js'
import {vmNetworkAdapter} from '../../lib/policy/kinds.js'

export default class VMNetworkAdapterRemove extends removeCommand(vmNetworkAdapter) {
  static override psPositional = ['vm-name']
}

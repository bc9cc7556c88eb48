import {newCommand} from '../../lib/cli/policy-command.js'
import {vmNetworkAdapter} from '../../lib/policy/kinds.js'

export default class VMNetworkAdapterAdd extends newCommand(vmNetworkAdapter, 'Add') {
  static override psPositional = ['vm-name']
}

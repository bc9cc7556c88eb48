import {setCommand} from '../../lib/cli/policy-command.js'
import {vmNetworkAdapter} from '../../lib/policy/kinds.js'

export default class VMNetworkAdapterSet extends setCommand(vmNetworkAdapter) {
  static override psPositional = ['vm-name']
}

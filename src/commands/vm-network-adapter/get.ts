import {getCommand} from '../../lib/cli/policy-command.js'
import {vmNetworkAdapter} from '../../lib/policy/kinds.js'

export default class VMNetworkAdapterGet extends getCommand(vmNetworkAdapter) {
  static override psPositional = ['vm-name']
}

import {removeCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vmNetwork} from '../../lib/model/kinds.js'

export default class VMNetworkRemove extends modelCommand(removeCommand(vmNetwork)) {}

import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vmSubnet} from '../../lib/model/kinds.js'

export default class VMSubnetGet extends modelCommand(getCommand(vmSubnet), false) {}

import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vmNetwork} from '../../lib/model/kinds.js'

export default class VMNetworkGet extends modelCommand(getCommand(vmNetwork), false) {}

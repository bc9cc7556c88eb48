import {newCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vmNetwork} from '../../lib/model/kinds.js'

export default class VMNetworkNew extends modelCommand(newCommand(vmNetwork, 'New')) {}

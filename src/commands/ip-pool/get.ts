import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {ipPool} from '../../lib/model/kinds.js'

export default class IPPoolGet extends modelCommand(getCommand(ipPool), false) {}

import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {macPool} from '../../lib/model/kinds.js'

export default class MACPoolGet extends modelCommand(getCommand(macPool), false) {}

import {removeCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {macPool} from '../../lib/model/kinds.js'

export default class MACPoolRemove extends modelCommand(removeCommand(macPool)) {}

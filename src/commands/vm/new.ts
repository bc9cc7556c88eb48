import {newCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vm} from '../../lib/model/kinds.js'

export default class VMNew extends modelCommand(newCommand(vm, 'New')) {}

import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {vm} from '../../lib/model/kinds.js'

export default class VMGet extends modelCommand(getCommand(vm), false) {}

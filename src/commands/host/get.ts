import {getCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {host} from '../../lib/model/kinds.js'

export default class HostGet extends modelCommand(getCommand(host), false) {}

import {setCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {host} from '../../lib/model/kinds.js'

export default class HostSet extends modelCommand(setCommand(host)) {}

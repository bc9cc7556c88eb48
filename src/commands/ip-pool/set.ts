import {setCommand} from '../../lib/cli/policy-command.js'
import {modelCommand} from '../../lib/model/command.js'
import {ipPool} from '../../lib/model/kinds.js'

export default class IPPoolSet extends modelCommand(setCommand(ipPool)) {}

import {removeCommand} from '../../lib/cli/policy-command.js'
import {customerRoute} from '../../lib/policy/kinds.js'

export default class CustomerRouteRemove extends removeCommand(customerRoute) {}

import {getCommand} from '../../lib/cli/policy-command.js'
import {customerRoute} from '../../lib/policy/kinds.js'

export default class CustomerRouteGet extends getCommand(customerRoute) {}

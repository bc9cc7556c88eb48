import {newCommand} from '../../lib/cli/policy-command.js'
import {customerRoute} from '../../lib/policy/kinds.js'

export default class CustomerRouteNew extends newCommand(customerRoute) {}

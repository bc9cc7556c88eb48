import {setCommand} from '../../lib/cli/policy-command.js'
import {customerRoute} from '../../lib/policy/kinds.js'

export default class CustomerRouteSet extends setCommand(customerRoute) {}

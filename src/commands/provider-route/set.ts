import {setCommand} from '../../lib/cli/policy-command.js'
import {providerRoute} from '../../lib/policy/kinds.js'

export default class ProviderRouteSet extends setCommand(providerRoute) {}

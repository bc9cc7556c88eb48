import {getCommand} from '../../lib/cli/policy-command.js'
import {providerRoute} from '../../lib/policy/kinds.js'

export default class ProviderRouteGet extends getCommand(providerRoute) {}

import {newCommand} from '../../lib/cli/policy-command.js'
import {providerRoute} from '../../lib/policy/kinds.js'

export default class ProviderRouteNew extends newCommand(providerRoute) {}

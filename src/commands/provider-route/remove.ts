import {removeCommand} from '../../lib/cli/policy-command.js'
import {providerRoute} from '../../lib/policy/kinds.js'

export default class ProviderRouteRemove extends removeCommand(providerRoute) {}

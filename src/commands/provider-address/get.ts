import {getCommand} from '../../lib/cli/policy-command.js'
import {providerAddress} from '../../lib/policy/kinds.js'

export default class ProviderAddressGet extends getCommand(providerAddress) {}

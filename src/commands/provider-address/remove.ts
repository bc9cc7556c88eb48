import {removeCommand} from '../../lib/cli/policy-command.js'
import {providerAddress} from '../../lib/policy/kinds.js'

export default class ProviderAddressRemove extends removeCommand(providerAddress) {}

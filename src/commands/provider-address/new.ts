import {newCommand} from '../../lib/cli/policy-command.js'
import {providerAddress} from '../../lib/policy/kinds.js'

export default class ProviderAddressNew extends newCommand(providerAddress) {}

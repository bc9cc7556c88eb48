import {setCommand} from '../../lib/cli/policy-command.js'
import {providerAddress} from '../../lib/policy/kinds.js'

export default class ProviderAddressSet extends setCommand(providerAddress) {}

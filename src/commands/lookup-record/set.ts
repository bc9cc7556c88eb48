import {setCommand} from '../../lib/cli/policy-command.js'
import {lookupRecord} from '../../lib/policy/kinds.js'

export default class LookupRecordSet extends setCommand(lookupRecord) {}

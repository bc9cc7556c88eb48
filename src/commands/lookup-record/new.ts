import {newCommand} from '../../lib/cli/policy-command.js'
import {lookupRecord} from '../../lib/policy/kinds.js'

export default class LookupRecordNew extends newCommand(lookupRecord) {}

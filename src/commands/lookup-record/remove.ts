import {removeCommand} from '../../lib/cli/policy-command.js'
import {lookupRecord} from '../../lib/policy/kinds.js'

export default class LookupRecordRemove extends removeCommand(lookupRecord) {}

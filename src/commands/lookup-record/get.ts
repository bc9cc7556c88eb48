import {getCommand} from '../../lib/cli/policy-command.js'
import {lookupRecord} from '../../lib/policy/kinds.js'

export default class LookupRecordGet extends getCommand(lookupRecord) {}

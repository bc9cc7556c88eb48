// JSON Schemas of the model objects the commands print with --json (schema/<Kind>.json), generated from
// the kind declarations like the policy kinds' (src/lib/policy/schema.ts).
import {objectSchema} from '../policy/schema.js'
import {MODEL_KINDS} from './kinds.js'

export function modelSchemas(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(MODEL_KINDS.map((k) => [`${k.name}.json`, objectSchema(k)]))
}

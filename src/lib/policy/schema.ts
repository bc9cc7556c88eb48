// JSON Schemas of the objects the commands print with --json: the contract scripts rely on. Generated from
// the kind declarations; `npm run schema` writes them to schema/, and a test fails when they drift.
import {KINDS} from './kinds.js'
import type {KindSpec, PropertySpec} from './types.js'

function propertySchema(property: PropertySpec): Record<string, unknown> {
  const t = property.type
  const base: Record<string, unknown> =
    t.kind === 'uint' ? {type: 'integer', minimum: t.min, maximum: t.max}
    : t.kind === 'bool' ? {type: 'boolean'}
    : t.kind === 'enum' ? {type: 'string', enum: [...t.values]}
    : {type: 'string'}
  const nullable = property.create !== 'mandatory' && property.default === undefined && !property.key && !property.allocated
  const schema = nullable ? {...base, type: [base.type, 'null']} : base
  if (nullable && t.kind === 'enum') (schema.enum as unknown[]).push(null)
  return {description: property.description, ...schema}
}

export function objectSchema(kind: KindSpec): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `https://hnv.dev/schema/${kind.name}.json`,
    title: kind.name,
    description: `One ${kind.noun} object as Get-${kind.noun} --json prints it`,
    type: 'object',
    additionalProperties: false,
    required: kind.properties.map((p) => p.name),
    properties: Object.fromEntries(kind.properties.map((p) => [p.name, propertySchema(p)])),
  }
}

export const GLOBAL_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://hnv.dev/schema/Global.json',
  title: 'Global',
  description: 'Get-NetVirtualizationGlobal --json',
  type: 'object',
  additionalProperties: false,
  required: ['UseExternalRouter'],
  properties: {UseExternalRouter: {type: 'boolean'}},
}

/** File name -> schema, for every object kind the CLI prints. */
export function allSchemas(): Record<string, Record<string, unknown>> {
  return {...Object.fromEntries(KINDS.map((k) => [`${k.name}.json`, objectSchema(k)])), 'Global.json': GLOBAL_SCHEMA}
}

// Reading a tenant file: parse (YAML or JSON, with positions), validate against schema/TenantFile.json,
// and hand back its sections with the place each object came from, for later problems to point at.
import type {ErrorObject, ValidateFunction} from 'ajv'
import {createRequire} from 'node:module'
import type {RawInput} from '../policy/service.js'
import {tenantFileSchema, LIST_FIELDS, sectionKinds} from './schema.js'
import {problemsError, readSource, parseSource, type Path, type SourceDocument} from './source.js'

export interface FileObject {
  /** The parameters New takes (lists joined with commas, as the CLI would pass them). */
  input: RawInput
  /** Where it is: ['VMs', 3]. */
  path: Path
}

export interface TenantFile {
  document: SourceDocument
  /** Model objects by section (export name of the kind), in file order. */
  sections: Map<string, FileObject[]>
  /** Raw low-level records by section (LookupRecords, ...), in file order; Global when given. */
  policy: Map<string, FileObject[]>
  global: RawInput | null
}

let validator: ValidateFunction | undefined

function validate(data: unknown): ErrorObject[] {
  if (!validator) {
    const Ajv = createRequire(import.meta.url)('ajv').default as typeof import('ajv').default
    // coerceTypes: YAML reads a MAC of 12 digits or a numeric name as a number; the field says it is text.
    validator = new Ajv({allErrors: true, strict: false, verbose: true, coerceTypes: true}).compile(tenantFileSchema())
  }
  return validator(data) ? [] : [...(validator.errors ?? [])]
}

export async function readTenantFile(source: string): Promise<TenantFile> {
  return tenantFile(await readSource(source))
}

export async function parseTenantFile(text: string, name: string): Promise<TenantFile> {
  return tenantFile(await parseSource(text, name))
}

/** Validates a parsed document as a tenant file. */
export function tenantFile(document: SourceDocument): TenantFile {
  const data = document.data ?? {}
  const problems = schemaProblems(validate(data), data)
  if (problems.length > 0) throw problemsError(document, problems)
  const root = data as Record<string, unknown>
  const duplicates = sectionKinds().flatMap((kind) => {
    const seen = new Map<string, number>()
    return ((root[kind.exportName] ?? []) as {Name: string}[]).flatMap((item, index) => {
      const first = seen.get(item.Name.toLowerCase())
      seen.set(item.Name.toLowerCase(), first ?? index)
      return first === undefined ? [] : [{path: [kind.exportName, index, 'Name'], message: `'${item.Name}' is already the name of ${kind.exportName}[${first}]; names are unique per kind (case-insensitive)`}]
    })
  })
  if (duplicates.length > 0) throw problemsError(document, duplicates)
  const sections = new Map<string, FileObject[]>()
  for (const kind of sectionKinds()) sections.set(kind.exportName, objects(root[kind.exportName], [kind.exportName]))
  const policy = new Map<string, FileObject[]>()
  const raw = (root.Policy ?? {}) as Record<string, unknown>
  for (const [name, items] of Object.entries(raw)) if (name !== 'Global') policy.set(name, objects(items, ['Policy', name]))
  return {document, sections, policy, global: (raw.Global as RawInput | undefined) ?? null}
}

function objects(items: unknown, path: Path): FileObject[] {
  return ((items ?? []) as Record<string, unknown>[]).map((item, index) => ({
    input: Object.fromEntries(Object.entries(item).filter(([, v]) => v !== null).map(([key, value]) => [key, LIST_FIELDS.has(key) && Array.isArray(value) ? value.join(',') : value])),
    path: [...path, index],
  }))
}

function pathOf(instancePath: string): (string | number)[] {
  return instancePath.split('/').slice(1).map((step) => step.replace(/~1/g, '/').replace(/~0/g, '~')).map((step) => (/^\d+$/.test(step) ? Number(step) : step))
}

function valueAt(data: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, step) => (node as Record<string | number, unknown> | undefined)?.[step], data)
}

/** ajv's errors as one problem per place, in words that name the field and what is allowed. */
function schemaProblems(errors: ErrorObject[], data: unknown): {path: Path; message: string}[] {
  const byPlace = new Map<string, {path: Path; message: string}>()
  for (const error of errors) {
    const path = pathOf(error.instancePath)
    let place = path
    let message: string
    const shown = JSON.stringify(valueAt(data, path))
    switch (error.keyword) {
      case 'required':
        message = `missing ${(error.params as {missingProperty: string}).missingProperty}`
        break
      case 'additionalProperties': {
        const name = (error.params as {additionalProperty: string}).additionalProperty
        place = [...path, name]
        message = `unknown property; allowed: ${Object.keys((error.parentSchema as {properties: object}).properties).join(', ')}`
        break
      }
      case 'type':
        // anyOf's other branches (null, a list) explain nothing the first branch does not, and a value
        // with problems inside it (a list with one bad item) is explained by those.
        if (error.schemaPath.includes('/anyOf/') && ['null', 'array'].includes(String((error.params as {type: string}).type))) continue
        if (errors.some((other) => other.instancePath.startsWith(`${error.instancePath}/`))) continue
        message = `${shown} must be ${article(String((error.params as {type: string}).type))}`
        break
      case 'enum':
        message = `${shown} is not allowed; use one of ${((error.params as {allowedValues: unknown[]}).allowedValues).join(', ')}`
        break
      case 'minimum':
      case 'maximum':
        message = `${shown} is out of range: ${error.message}`
        break
      case 'anyOf':
        continue
      default:
        message = `${shown} ${error.message}`
    }
    const key = JSON.stringify(place)
    if (!byPlace.has(key)) byPlace.set(key, {path: place, message})
  }
  return [...byPlace.values()]
}

function article(type: string): string {
  return {string: 'a string', integer: 'a whole number', boolean: 'true or false', object: 'a mapping (Name: value, ...)', array: 'a list'}[type] ?? type
}

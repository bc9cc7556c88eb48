// A YAML or JSON document read with the positions of its nodes, so that every problem found in it later
// (schema, values, references, rules) can be reported as `tenant.yaml:12: VMs[3].VMSubnet: ...`.
// JSON is read by the YAML parser too (JSON is YAML 1.2 flow syntax), so both formats get line numbers.
import {readFileSync} from 'node:fs'
import {basename} from 'node:path'
import {PolicyError, UsageError} from '../cli/errors.js'

export type Path = readonly (string | number)[]

export interface SourceDocument {
  /** The name problems are reported under: the file's base name, or `<stdin>`. */
  name: string
  data: unknown
  /** The 1-based line of the node at path (or of the nearest ancestor that exists), or null. */
  line(path: Path): number | null
}

export async function readSource(source: string): Promise<SourceDocument> {
  if (source === '-' && process.stdin.isTTY) throw new UsageError('-f - reads the file from standard input, but it is a terminal: pipe a file in or name it')
  let text: string
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8')
  } catch (error) {
    throw new PolicyError(`cannot read ${source}: ${(error as Error).message}`)
  }
  return parseSource(text, source === '-' ? '<stdin>' : basename(source))
}

export async function parseSource(text: string, name: string): Promise<SourceDocument> {
  const {LineCounter, parseDocument, isMap, isSeq, visit} = await import('yaml')
  const lines = new LineCounter()
  const document = parseDocument(text, {lineCounter: lines, uniqueKeys: true, prettyErrors: false})
  const error = document.errors[0]
  if (error) {
    const at = error.linePos?.[0]?.line ?? lines.linePos(error.pos[0]).line
    throw new PolicyError(`${name}:${at}: not valid YAML or JSON: ${error.message.split('\n')[0]}`)
  }
  // A plain scalar YAML reads as a number but did not write as one keeps its text: the MAC 060600000005
  // is not the number 60600000005, nor 0x10 the number 16.
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && node.type === 'PLAIN' && node.source !== undefined && String(node.value) !== node.source) node.value = node.source
    },
  })
  const line = (path: Path): number | null => {
    let node: unknown = document.contents
    let found: number | null = lineOf(node)
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => String((p.key as {value?: unknown})?.value ?? p.key) === String(step))
        if (!pair) break
        // A field's line is its key's: `VMHost: host1`, or `Prefix:` above its list.
        found = lineOf(pair.key) ?? lineOf(pair.value) ?? found
        node = pair.value
      } else if (isSeq(node) && typeof step === 'number' && node.items[step] !== undefined) {
        node = node.items[step]
        found = lineOf(node) ?? found
      } else break
    }
    return found
  }
  const lineOf = (node: unknown): number | null => {
    const range = (node as {range?: [number, number, number]} | null)?.range
    return range ? lines.linePos(range[0]).line : null
  }
  return {name, data: document.toJS({maxAliasCount: 1000}), line}
}

/** `VMs[3].VMSubnet` */
export function pathText(path: Path): string {
  return path.map((step, i) => (typeof step === 'number' ? `[${step}]` : i === 0 ? step : `.${step}`)).join('')
}

/** One problem at a place in the document: `tenant.yaml:12: VMs[3].VMSubnet: must be a string`. */
export function problemAt(document: SourceDocument, path: Path, message: string): string {
  const line = document.line(path)
  return `${document.name}${line === null ? '' : `:${line}`}: ${path.length > 0 ? `${pathText(path)}: ` : ''}${message}`
}

/** A PolicyError listing every problem, one line each, in document order. */
export function problemsError(document: SourceDocument, problems: {path: Path; message: string}[]): PolicyError {
  const sorted = [...problems].sort((a, b) => (document.line(a.path) ?? 0) - (document.line(b.path) ?? 0))
  return new PolicyError(sorted.map((p) => problemAt(document, p.path, p.message)).join('\n'))
}

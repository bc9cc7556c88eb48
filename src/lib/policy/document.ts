// Policy documents on disk: JSON, or YAML for people (the yaml package loads only when needed).
import {readFileSync} from 'node:fs'
import {PolicyError, UsageError} from '../cli/errors.js'
import type {PolicyDocument} from './service.js'

export async function formatDocument(document: PolicyDocument, format: 'json' | 'yaml'): Promise<string> {
  if (format === 'json') return JSON.stringify(document, null, 2) + '\n'
  const {stringify} = await import('yaml')
  return stringify(document)
}

export async function readDocument(source: string): Promise<unknown> {
  if (source === '-' && process.stdin.isTTY) throw new UsageError('reading the document from standard input, but it is a terminal: pipe a file in or name it')
  let text: string
  try {
    text = readFileSync(source === '-' ? 0 : source, 'utf8')
  } catch (error) {
    throw new PolicyError(`cannot read ${source}: ${(error as Error).message}`)
  }
  if (/^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text)
    } catch (error) {
      throw new PolicyError(`${source} is not valid JSON: ${(error as Error).message}`)
    }
  }
  const {parse} = await import('yaml')
  try {
    return parse(text)
  } catch (error) {
    throw new PolicyError(`${source} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
}

/** How many objects a document lists (for a progress bar; anything that is not a list counts nothing). */
export function documentSize(document: unknown): number {
  if (typeof document !== 'object' || document === null) return 0
  return Object.values(document).reduce((n: number, value) => n + (Array.isArray(value) ? value.length : 0), 0)
}

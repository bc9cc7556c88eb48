// The only place hnv writes to the terminal. stdout carries the result alone (so `--json | jq` and CSV
// redirection stay clean); notes, warnings and errors go to stderr.
import {createRequire} from 'node:module'
import type {PolicyObject} from '../policy/types.js'
import {displayValue} from '../policy/values.js'

export const OUTPUT_FORMATS = ['table', 'list', 'json', 'csv'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

export interface Result {
  /** The objects, each with its properties in display order. */
  rows: PolicyObject[]
  /** Column order, needed when there are no rows (CSV header) and kept stable otherwise. */
  columns: string[]
  /** JSON shows one object rather than a list (New, Get-NetVirtualizationGlobal). */
  single?: boolean
  /** -WhatIf: rows are {Operation, Target}; people see PowerShell's "What if:" lines. */
  whatIf?: boolean
}

export function render(result: Result, format: OutputFormat): string {
  if (result.whatIf && (format === 'table' || format === 'list')) {
    return result.rows.map((r) => `What if: Performing the operation "${r.Operation}" on target "${r.Target}".\n`).join('')
  }
  switch (format) {
    case 'json':
      return JSON.stringify(result.single ? result.rows[0] ?? null : result.rows, null, 2) + '\n'
    case 'csv':
      return [result.columns, ...result.rows.map((row) => result.columns.map((c) => displayValue(row[c] ?? null)))]
        .map((cells) => cells.map(csvCell).join(','))
        .join('\n') + '\n'
    case 'list':
      return renderList(result)
    case 'table':
      return renderTable(result)
  }
}

/** PowerShell's Format-List: `Name : value`, labels aligned, a blank line around each object. */
function renderList(result: Result): string {
  if (result.rows.length === 0) return ''
  const width = Math.max(...result.columns.map((c) => c.length))
  const blocks = result.rows.map((row) => result.columns.map((c) => `${c.padEnd(width)} : ${displayValue(row[c] ?? null)}`).join('\n'))
  return `\n${blocks.join('\n\n')}\n\n`
}

/** PowerShell's Format-Table look: header, dashes, rows; no box drawing, so it greps and copies cleanly. */
function renderTable(result: Result): string {
  if (result.rows.length === 0) return ''
  const none = {top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: ' '}
  // Loaded on first use: JSON, CSV and list output (scripts, cmdlet form) never pay for it.
  const Table = createRequire(import.meta.url)('cli-table3') as typeof import('cli-table3')
  const table = new Table({head: result.columns, chars: none, style: {head: [], border: [], 'padding-left': 0, 'padding-right': 0}})
  table.push(result.columns.map((c) => '-'.repeat(c.length)))
  for (const row of result.rows) table.push(result.columns.map((c) => displayValue(row[c] ?? null)))
  return table.toString().split('\n').map((line) => line.trimEnd()).join('\n') + '\n'
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function writeResult(text: string): void {
  if (text) process.stdout.write(text)
}

/** Binary output (a pcap stream for `tshark -i -`); resolves once the bytes are handed to the OS. */
export function writeBytes(bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())))
}

export function writeNote(line: string): void {
  process.stderr.write(`${line}\n`)
}

export function writeError(line: string): void {
  process.stderr.write(`hnv: ${line}\n`)
}

/** The terminal on stderr, for status that redraws in place (progress.ts); null when stderr is not a TTY. */
export function statusTerminal(): {columns: number; write(text: string): void} | null {
  if (!process.stderr.isTTY) return null
  return {columns: process.stderr.columns || 80, write: (text) => void process.stderr.write(text)}
}

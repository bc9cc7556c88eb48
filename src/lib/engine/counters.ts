// Counters as plain numbers in typed arrays (DESIGN §3), indexed by small integers: a row per port slot or
// per VSID, a column per quantity. Float64 holds exact integers up to 2^53. Rows are added on the control
// path (attach, load); the hot path only does `values[row * width + column] += n`. Objects are built only
// when status() asks.

export class CounterTable {
  readonly width: number
  values: Float64Array
  private rowCount = 0

  constructor(readonly columns: readonly string[], initialRows = 8) {
    this.width = columns.length
    this.values = new Float64Array(this.width * Math.max(1, initialRows))
  }

  get rows(): number {
    return this.rowCount
  }

  /** Makes rows 0..count-1 exist (new ones zero); keeps the values of existing ones. */
  ensureRows(count: number): void {
    if (count <= this.rowCount) return
    const needed = count * this.width
    if (needed > this.values.length) {
      const grown = new Float64Array(Math.max(needed, this.values.length * 2))
      grown.set(this.values)
      this.values = grown
    }
    this.rowCount = count
  }

  /** Zeroes one row (a reused port slot). */
  clearRow(row: number): void {
    this.values.fill(0, row * this.width, (row + 1) * this.width)
  }

  add(row: number, column: number, n: number): void {
    this.values[row * this.width + column] += n
  }

  get(row: number, column: number): number {
    return this.values[row * this.width + column]
  }

  /** One row as {column: value}, for status. */
  row(row: number): Record<string, number> {
    const out: Record<string, number> = {}
    for (let c = 0; c < this.width; c++) out[this.columns[c]] = this.values[row * this.width + c]
    return out
  }
}

/** Columns of a port slot's row. */
export const PortCounter = {RX_PACKETS: 0, RX_BYTES: 1, TX_PACKETS: 2, TX_BYTES: 3, DROPS: 4, REPLIES: 5} as const
export const PORT_COUNTER_NAMES: readonly string[] = ['rxPackets', 'rxBytes', 'txPackets', 'txBytes', 'drops', 'replies']

/** Columns of a VSID's row: what entered the engine in that VSID (from its ports or its NVGRE key). */
export const VsidCounter = {PACKETS: 0, BYTES: 1, DROPS: 2} as const
export const VSID_COUNTER_NAMES: readonly string[] = ['packets', 'bytes', 'drops']

/** Named one-dimensional counters (drops by reason, replies by kind): `values[index]`. */
export function namedCounts(names: readonly string[], values: Float64Array): Record<string, number> {
  const out: Record<string, number> = {}
  names.forEach((name, i) => (out[name] = values[i]))
  return out
}

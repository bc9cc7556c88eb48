// A one-line progress bar for long work (applying hundreds of VMs), redrawn in place on stderr when stderr
// is a terminal, and nothing at all otherwise: piped and --json runs see only their result. Short work
// never draws: the bar appears only once the work has run for DELAY_MS.
import {statusTerminal} from './output.js'

export interface Progress {
  /** n more items done (default 1). */
  tick(n?: number): void
  /** Clears the bar; call it whatever happened (in finally). */
  done(): void
}

export interface ProgressTerminal {
  columns: number
  write(text: string): void
}

/** Work shorter than this shows no bar. */
export const DELAY_MS = 150
/** At most one redraw per frame. */
const FRAME_MS = 50

const SILENT: Progress = {tick() {}, done() {}}

/** A bar for `total` items labelled `label`; terminal and clock are injectable for tests. */
export function startProgress(label: string, total: number, terminal: ProgressTerminal | null = statusTerminal(), now: () => number = Date.now): Progress {
  if (!terminal || total <= 0) return SILENT
  const started = now()
  let count = 0
  let drawn = -1
  let lastDraw = 0
  let visible = false
  const draw = (force: boolean): void => {
    const t = now()
    if (!force && (t - started < DELAY_MS || t - lastDraw < FRAME_MS || count === drawn)) return
    terminal.write(`\r${progressLine(label, count, total, terminal.columns)}`)
    visible = true
    drawn = count
    lastDraw = t
  }
  return {
    tick(n = 1) {
      count = Math.min(total, count + n)
      draw(false)
    },
    done() {
      if (visible) terminal.write(`\r${' '.repeat(Math.max(0, terminal.columns - 1))}\r`)
      visible = false
    },
  }
}

/** `label [#####.....]  45/100`, fitted to the terminal width. */
export function progressLine(label: string, count: number, total: number, columns: number): string {
  const counter = ` ${String(count).padStart(String(total).length)}/${total}`
  const room = Math.max(10, Math.min(40, columns - 1 - label.length - counter.length - 3))
  const filled = Math.round((room * count) / total)
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(room - filled)}]${counter}`.slice(0, Math.max(1, columns - 1))
}

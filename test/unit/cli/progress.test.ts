import {describe, expect, it} from 'vitest'
import {DELAY_MS, progressLine, startProgress} from '../../../src/lib/cli/progress.js'

function terminal(columns = 60) {
  const writes: string[] = []
  return {writes, columns, write: (text: string) => void writes.push(text)}
}

describe('progress bar', () => {
  it('draws nothing without a terminal (piped stderr)', () => {
    const bar = startProgress('applying', 10, null)
    bar.tick(10)
    bar.done()
  })

  it('draws nothing for short work, then redraws in place and clears the line when done', () => {
    let t = 0
    const term = terminal()
    const bar = startProgress('applying', 100, term, () => t)
    bar.tick(5)
    expect(term.writes).toEqual([])
    t = DELAY_MS + 1
    bar.tick(45)
    expect(term.writes).toEqual([`\r${progressLine('applying', 50, 100, 60)}`])
    bar.tick() // within the same frame: no redraw
    expect(term.writes).toHaveLength(1)
    t += 100
    bar.tick(49)
    expect(term.writes.at(-1)).toContain('100/100')
    bar.done()
    expect(term.writes.at(-1)).toBe(`\r${' '.repeat(59)}\r`)
  })

  it('fits the width it is given', () => {
    expect(progressLine('applying', 1, 4, 80)).toBe(`applying [${'#'.repeat(10)}${'.'.repeat(30)}] 1/4`)
    expect(progressLine('a very long label indeed', 3, 3, 20).length).toBeLessThanOrEqual(19)
  })
})

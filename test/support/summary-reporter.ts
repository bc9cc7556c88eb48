// Prints one plain closing line, "tests: N passed, N failed, N skipped", that any CI can read. It is
// written at exit so that it comes after vitest's own summary.
import {writeSync} from 'node:fs'
import type {Reporter, TestModule} from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const counts = {passed: 0, failed: 0, skipped: 0}
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') counts.passed++
        else if (state === 'failed') counts.failed++
        else counts.skipped++
      }
    }
    process.once('exit', () => writeSync(1, `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`))
  }
}

import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The closing line CI reads: "N passed, N failed, N skipped".
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
})

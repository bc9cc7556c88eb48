import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests build network namespaces and spawn the CLI: keep them in one worker at a time.
    poolOptions: {forks: {singleFork: false}},
  },
})

import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: ['packages/*', 'tools/registry'],
    reporters: ['default', './test/summary-reporter.ts'],
    // Most kernel and real-client test files spend their time waiting (daemons starting, the
    // kernel, processes they spawn), and each works in namespaces of its own: several files at once
    // on 2 cores. `CNM_TEST_WORKERS=1` runs them one by one.
    maxWorkers: Number(process.env.CNM_TEST_WORKERS ?? 4),
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})

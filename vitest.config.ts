import path from 'node:path'
import { defineConfig } from 'vitest/config'
import { LongestFirst } from './test/longest-first.js'

const persistentCache = process.env.CNM_CACHE_DIR

export default defineConfig({
  // scripts/test.sh passes the cache directory that outlives a checkout (scripts/cache-dir.sh):
  // vitest keeps each file's last duration there, so a clean clone too starts the slowest files
  // first (its sequencer runs failed files first, then the longest). Only the order depends on it.
  cacheDir: persistentCache ? path.join(persistentCache, 'vite') : undefined,
  test: {
    projects: ['packages/*', 'tools/registry'],
    reporters: ['default', './test/summary-reporter.ts'],
    // Most kernel and real-client test files spend their time waiting (daemons starting, the
    // kernel, processes they spawn), and each works in namespaces of its own: several files at once
    // on 2 cores: six at once left the quiet machine 14% idle against 18% with four, and took 463 s
    // against 501 s (BENCHMARKS.md, session 8). `CNM_TEST_WORKERS=1` runs them one by one.
    maxWorkers: Number(process.env.CNM_TEST_WORKERS ?? 6),
    // The longest files first across every project, not project by project (test/longest-first.ts).
    sequence: { sequencer: LongestFirst },
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
})

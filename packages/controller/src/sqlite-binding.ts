import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const require = createRequire(import.meta.url)
let found: string | null | undefined

/**
 * better-sqlite3's native addon, found once by path. Without it better-sqlite3 asks the `bindings`
 * package, which finds the addon by walking a stack trace and trying a dozen directories: ~100 ms
 * of every in-process `cnm` command under load (profiled with `node --cpu-prof`, BENCHMARKS.md).
 * Undefined when the usual build path is not there (a debug build, another layout): then
 * better-sqlite3 looks for it itself, as before.
 */
export function sqliteBinding(): string | undefined {
  if (found === undefined) {
    const root = path.dirname(require.resolve('better-sqlite3/package.json'))
    const file = path.join(root, 'build', 'Release', 'better_sqlite3.node')
    found = existsSync(file) ? file : null
  }
  return found ?? undefined
}

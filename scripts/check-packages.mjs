#!/usr/bin/env node
// publint and attw (ESM-only profile) for every published package (private ones, such as the
// tools, are skipped). Exits non-zero on any problem.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const dirs = readdirSync(path.join(root, 'packages')).map((d) => path.join('packages', d))
let failed = 0
for (const dir of dirs) {
  const { name, private: isPrivate } = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'))
  if (isPrivate) continue
  const before = failed
  for (const [tool, args] of [
    ['publint', ['--strict', dir]],
    ['attw', ['--pack', dir, '--profile', 'esm-only', '--format', 'table-flipped', '--no-color']],
  ]) {
    const res = spawnSync('pnpm', ['exec', tool, ...args], { cwd: root, encoding: 'utf8' })
    if (res.status !== 0) {
      failed++
      process.stdout.write(`${name}: ${tool} failed\n${res.stdout}${res.stderr}\n`)
    }
  }
  if (failed === before) process.stdout.write(`${name}: publint and attw ok\n`)
}
process.exit(failed ? 1 : 0)

#!/usr/bin/env node
// publint and attw (ESM-only profile) for every published package (private ones, such as the
// tools, are skipped). Exits non-zero on any problem.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const dirs = readdirSync(path.join(root, 'packages')).map((d) => path.join('packages', d))
const license = readFileSync(path.join(root, 'LICENSE'), 'utf8')
let failed = 0
for (const dir of dirs) {
  const { name, private: isPrivate } = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'))
  if (isPrivate) continue
  const before = failed
  // npm puts a package directory's LICENSE in its tarball: every package carries the root's.
  let own = ''
  try {
    own = readFileSync(path.join(root, dir, 'LICENSE'), 'utf8')
  } catch {}
  if (own !== license) {
    failed++
    process.stdout.write(`${name}: ${dir}/LICENSE is missing or differs from the root LICENSE\n`)
  }
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
  // Supported Node versions: `>=20.19` everywhere, the first 20.x whose require() loads ES modules;
  // this Node must satisfy it, and CommonJS require() of the package must work.
  const { engines } = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'))
  if (engines?.node !== '>=20.19') {
    failed++
    process.stdout.write(`${name}: engines.node is ${JSON.stringify(engines?.node)}, not ">=20.19"\n`)
  }
  const req = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, dir))})`], {
    encoding: 'utf8',
  })
  if (req.status !== 0) {
    failed++
    process.stdout.write(`${name}: require() failed\n${req.stderr}\n`)
  }
  if (failed === before) process.stdout.write(`${name}: publint, attw, LICENSE, engines and require() ok\n`)
}
process.exit(failed ? 1 : 0)

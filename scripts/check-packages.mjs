#!/usr/bin/env node
// publint and attw (ESM-only profile) for every published package (private ones, such as the
// tools, are skipped), its LICENSE, its engines and CommonJS require(), then `changeset status`.
// The packages are checked four at a time (each check is a process that mostly waits on its
// tarball and its module graph); the report keeps the packages' order. Exits non-zero on any
// problem.
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const bin = (tool) => path.join(root, 'node_modules', '.bin', tool)
const dirs = readdirSync(path.join(root, 'packages')).map((d) => path.join('packages', d))
const license = readFileSync(path.join(root, 'LICENSE'), 'utf8')

/** Runs a program (argument array, no shell): its exit status and output. */
function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

/** The problems of one package directory (none for a private one), as report lines. */
async function check(dir) {
  const manifest = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8'))
  if (manifest.private) return undefined
  const problems = []
  // npm puts a package directory's LICENSE in its tarball: every package carries the root's.
  let own = ''
  try {
    own = readFileSync(path.join(root, dir, 'LICENSE'), 'utf8')
  } catch {}
  if (own !== license) problems.push(`${dir}/LICENSE is missing or differs from the root LICENSE`)
  // Supported Node versions: `>=20.19` everywhere, the first 20.x whose require() loads ES modules;
  // this Node must satisfy it, and CommonJS require() of the package must work.
  if (manifest.engines?.node !== '>=20.19') {
    problems.push(`engines.node is ${JSON.stringify(manifest.engines?.node)}, not ">=20.19"`)
  }
  const [publint, attw, req] = await Promise.all([
    run(bin('publint'), ['--strict', dir]),
    run(bin('attw'), ['--pack', dir, '--profile', 'esm-only', '--format', 'table-flipped', '--no-color']),
    run(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, dir))})`]),
  ])
  if (publint.status !== 0) problems.push(`publint failed\n${publint.stdout}${publint.stderr}`)
  if (attw.status !== 0) problems.push(`attw failed\n${attw.stdout}${attw.stderr}`)
  if (req.status !== 0) problems.push(`require() failed\n${req.stderr}`)
  return { name: manifest.name, problems }
}

const results = new Array(dirs.length)
let next = 0
async function worker() {
  while (next < dirs.length) {
    const i = next++
    results[i] = await check(dirs[i])
  }
}
await Promise.all(Array.from({ length: 4 }, worker))

let failed = 0
for (const r of results) {
  if (!r) continue
  if (r.problems.length === 0) {
    process.stdout.write(`${r.name}: publint, attw, LICENSE, engines and require() ok\n`)
    continue
  }
  failed += r.problems.length
  for (const p of r.problems) process.stdout.write(`${r.name}: ${p}\n`)
}
// The release flow: every pending changeset names packages that exist, and no package changed on
// this branch without one (`changeset status` compares with the base branch when it is there).
const status = await run(bin('changeset'), ['status'])
if (status.status !== 0) {
  failed++
  process.stdout.write(`changeset status failed\n${status.stdout}${status.stderr}\n`)
} else process.stdout.write('changeset status ok\n')
process.exit(failed ? 1 : 0)

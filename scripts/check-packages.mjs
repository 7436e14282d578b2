#!/usr/bin/env node
// publint and attw (ESM-only profile) for every published package (private ones, such as the
// tools, are skipped), its LICENSE, its engines and CommonJS require(), then `changeset status`.
// Every package is packed once, by one `pnpm -r pack` (the tarball `pnpm publish` would upload);
// publint and attw both read that tarball. A tarball whose content passed both before (the same
// files and bytes, the same tool versions, the same Node) is not checked again: the sha256 of its
// content is kept in the cache directory of scripts/cache-dir.sh (package-checks/), so an
// unchanged package costs one hash; any change to what would be published checks it again.
// The packages are checked four at a time; the report keeps the packages' order. Exits non-zero
// on any problem.
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'

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

const packDir = mkdtempSync(path.join(tmpdir(), 'cnm-pack-'))
process.on('exit', () => rmSync(packDir, { recursive: true, force: true }))
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(1))
const cacheDir = (await run('bash', [path.join(root, 'scripts', 'cache-dir.sh')])).stdout.trim()
const passedDir = cacheDir ? path.join(cacheDir, 'package-checks') : undefined
const toolVersion = (pkg) =>
  JSON.parse(readFileSync(path.join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version
const checker = `publint ${toolVersion('publint')} --strict; attw ${toolVersion('@arethetypeswrong/cli')} esm-only; node ${process.version}`

/**
 * The sha256 of a tarball's entries (names and bytes). `pnpm -r pack` writes the dependency maps
 * of package.json in an order that varies from run to run, so those maps are hashed sorted (their
 * order means nothing; every other field, `exports` included, is hashed as packed).
 * @param {string} tarball
 */
function contentHash(tarball) {
  const tar = gunzipSync(readFileSync(tarball))
  const h = createHash('sha256').update(checker)
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512)
    if (header.every((b) => b === 0)) break
    const field = (start, len) =>
      header
        .subarray(start, start + len)
        .toString('latin1')
        .replace(/\0.*$/s, '')
    const name = `${field(345, 155)}${field(345, 155) ? '/' : ''}${field(0, 100)}`
    const size = Number.parseInt(field(124, 12).trim() || '0', 8)
    let body = tar.subarray(off + 512, off + 512 + size)
    if (name === 'package/package.json') {
      const manifest = JSON.parse(body.toString('utf8'))
      for (const k of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
        if (manifest[k])
          manifest[k] = Object.fromEntries(Object.entries(manifest[k]).sort(([a], [b]) => (a < b ? -1 : 1)))
      }
      body = Buffer.from(JSON.stringify(manifest))
    }
    h.update(`\0${name}\0${field(156, 1)}\0${field(100, 8)}\0${body.length}\0`).update(body)
    off += 512 + Math.ceil(size / 512) * 512
  }
  return h.digest('hex')
}

/** The cache entry of a tarball that passed publint and attw. @param {string} tarball */
function passedEntry(tarball) {
  return passedDir ? path.join(passedDir, contentHash(tarball)) : undefined
}

/** publint and attw on a packed tarball (skipped when these bytes passed before): problems. */
async function checkTarball(tarball) {
  const entry = passedEntry(tarball)
  if (entry && existsSync(entry)) return { problems: [], cached: true }
  const [publint, attw] = await Promise.all([
    run(bin('publint'), ['run', tarball, '--strict']),
    run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped', '--no-color']),
  ])
  const problems = []
  if (publint.status !== 0) problems.push(`publint failed\n${publint.stdout}${publint.stderr}`)
  if (attw.status !== 0) problems.push(`attw failed\n${attw.stdout}${attw.stderr}`)
  if (problems.length === 0 && entry) {
    // A new file named after the hash, never through a symlink (wx: O_CREAT | O_EXCL).
    await run('mkdir', ['-p', '-m', '0755', passedDir])
    try {
      writeFileSync(entry, `${checker}\n`, { flag: 'wx' })
    } catch {}
  }
  return { problems, cached: false }
}

/** The tarball `pnpm pack` made of a manifest: @scope/name 1.0.0 → scope-name-1.0.0.tgz. */
const tarballOf = (manifest) =>
  path.join(packDir, `${manifest.name.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`)

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
  const tarball = tarballOf(manifest)
  const [tb, req] = await Promise.all([
    existsSync(tarball)
      ? checkTarball(tarball)
      : { problems: [`pnpm pack made no ${path.basename(tarball)}`], cached: false },
    run(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, dir))})`]),
  ])
  problems.push(...tb.problems)
  if (req.status !== 0) problems.push(`require() failed\n${req.stderr}`)
  return { name: manifest.name, problems, cached: tb.cached }
}

// One pnpm process packs every package (each package's prepack runs: the addons' prebuilds).
const pack = await run('pnpm', ['-r', '--filter', './packages/*', 'pack', '--pack-destination', packDir])
if (pack.status !== 0) {
  process.stdout.write(`pnpm pack failed\n${pack.stdout}${pack.stderr}\n`)
  process.exit(1)
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
    const how = r.cached ? ' (this tarball passed publint and attw before)' : ''
    process.stdout.write(`${r.name}: publint, attw, LICENSE, engines and require() ok${how}\n`)
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

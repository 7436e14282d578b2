#!/usr/bin/env node
// node scripts/addon-cache.mjs restore|save CACHE_DIR
// The native addons' build outputs (build/Release's targets and, for the packages that ship them,
// the prebuilds/ their tarballs carry) kept across checkouts, keyed by content: the sha256 of the
// package's binding.gyp and every file under native/ (names and bytes), the shared build script
// (packages/addon-build/src), the Node ABI, platform and architecture and the C compiler's
// version. `restore` (before `pnpm install`) copies a matching entry into build/Release (and
// prebuilds/), so the install script (`cnm-build-addon`) and the prepack (`--prebuild`) find
// outputs newer than the sources and skip node-gyp; `save` (after them) stores the outputs under
// their key. A changed source has another
// key: nothing stale is ever used. Only files cnm owns are written (build/Release in the
// repository's packages, entries in the cache directory, made under a temporary name and renamed).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  constants,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs'
import path from 'node:path'
import { buildIsFresh, prebuildIsFresh } from '../packages/addon-build/src/index.js'

const root = path.resolve(import.meta.dirname, '..')
const [verb, cacheDir] = process.argv.slice(2)
if ((verb !== 'restore' && verb !== 'save') || !cacheDir || !path.isAbsolute(cacheDir)) {
  process.stderr.write('usage: addon-cache.mjs restore|save ABSOLUTE_CACHE_DIR\n')
  process.exit(2)
}
const store = path.join(cacheDir, 'addons')

/** Every regular file under dir, sorted, relative to base. @returns {string[]} */
function files(dir, base = dir) {
  if (!existsSync(dir)) return []
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...files(p, base))
    else if (e.isFile()) out.push(path.relative(base, p))
  }
  return out.sort()
}

const cc = spawnSync('cc', ['--version'], { encoding: 'utf8' })
const toolchain = [
  process.versions.modules,
  process.versions.napi,
  process.platform,
  process.arch,
  cc.status === 0 ? cc.stdout.split('\n')[0] : 'no cc',
].join('\n')
const buildScript = path.join(root, 'packages', 'addon-build', 'src')

/** The key of a package's addon build. @param {string} pkg */
function key(pkg) {
  const h = createHash('sha256').update(toolchain)
  const inputs = [
    ['binding.gyp', path.join(pkg, 'binding.gyp')],
    ...files(path.join(pkg, 'native')).map((f) => [`native/${f}`, path.join(pkg, 'native', f)]),
    ...files(buildScript).map((f) => [`addon-build/${f}`, path.join(buildScript, f)]),
  ]
  for (const [name, file] of inputs) h.update(`\0${name}\0`).update(readFileSync(file))
  return h.digest('hex')
}

/** The file names binding.gyp builds. @param {string} pkg @returns {string[]} */
function targets(pkg) {
  const gyp = JSON.parse(readFileSync(path.join(pkg, 'binding.gyp'), 'utf8'))
  return (gyp.targets ?? []).map((t) => (t.type === 'executable' ? t.target_name : `${t.target_name}.node`))
}

/** A real directory (not a symlink) or absent. @param {string} dir */
function plainDir(dir) {
  try {
    return lstatSync(dir).isDirectory()
  } catch {
    return !existsSync(dir)
  }
}

const packages = readdirSync(path.join(root, 'packages'))
  .map((d) => path.join(root, 'packages', d))
  .filter((d) => existsSync(path.join(d, 'binding.gyp')))
let done = 0
for (const pkg of packages) {
  const name = path.basename(pkg)
  const entry = path.join(store, `${name}-${key(pkg)}`)
  const release = path.join(pkg, 'build', 'Release')
  const names = targets(pkg)
  const platform = `${process.platform}-${process.arch}`
  const prebuilds = path.join(pkg, 'prebuilds', platform)
  const ships = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).scripts?.prepack !== undefined
  const dirs = [path.join(pkg, 'build'), release, path.join(pkg, 'prebuilds'), prebuilds]
  if (!dirs.every(plainDir)) continue
  if (verb === 'restore') {
    if (!names.every((n) => existsSync(path.join(entry, 'build', n)))) continue
    if (ships && !existsSync(path.join(entry, 'prebuilds'))) continue
    // Copied now: newer than the checkout's sources, which is what the install script checks.
    mkdirSync(release, { recursive: true })
    for (const n of names) {
      rmSync(path.join(release, n), { force: true })
      copyFileSync(path.join(entry, 'build', n), path.join(release, n), constants.COPYFILE_EXCL)
    }
    if (ships) {
      rmSync(prebuilds, { recursive: true, force: true })
      mkdirSync(prebuilds, { recursive: true })
      for (const f of readdirSync(path.join(entry, 'prebuilds'))) {
        copyFileSync(path.join(entry, 'prebuilds', f), path.join(prebuilds, f), constants.COPYFILE_EXCL)
      }
    }
    done++
  } else {
    // Only outputs newer than the sources they are stored under (never a build left from before
    // an edit of native/ that no install has compiled yet).
    if (existsSync(entry) || !buildIsFresh(pkg) || (ships && !prebuildIsFresh(pkg))) continue
    const shipped = ships && existsSync(prebuilds) ? readdirSync(prebuilds).filter((f) => f.endsWith('.node')) : []
    if (ships && shipped.length === 0) continue
    mkdirSync(store, { recursive: true })
    const tmp = `${entry}.${process.pid}.tmp`
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(path.join(tmp, 'build'), { recursive: true })
    for (const n of names) copyFileSync(path.join(release, n), path.join(tmp, 'build', n), constants.COPYFILE_EXCL)
    if (ships) {
      mkdirSync(path.join(tmp, 'prebuilds'))
      for (const f of shipped)
        copyFileSync(path.join(prebuilds, f), path.join(tmp, 'prebuilds', f), constants.COPYFILE_EXCL)
    }
    try {
      renameSync(tmp, entry)
      done++
    } catch {
      // Another checkout stored the same key meanwhile: same content.
      rmSync(tmp, { recursive: true, force: true })
    }
  }
}
process.stdout.write(
  verb === 'restore'
    ? `addon cache: ${done} of ${packages.length} native builds restored\n`
    : `addon cache: ${done} native builds stored\n`,
)

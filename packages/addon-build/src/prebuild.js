// Makes the prebuilt binaries a package ships in its tarball (`prebuilds/<platform>-<arch>/`,
// loaded by node-gyp-build): prebuildify, N-API, stripped, tagged with the C library, built
// offline against the running Node's headers. It builds in a temporary copy of `binding.gyp` and
// `native/`, so the package's own `build/` (which running processes may be loading) is untouched.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { nodeGypInvocation } from './node-gyp.js'
import { packageName } from './package-name.js'
import { gypTargets, sourcesMtime } from './targets.js'

/** The directory of this machine's prebuilds in a package. @param {string} packageDir */
export function prebuildDir(packageDir) {
  return path.join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`)
}

/** Whether every file in the prebuild directory is newer than the sources. @param {string} packageDir */
export function prebuildIsFresh(packageDir) {
  const dir = prebuildDir(packageDir)
  if (!existsSync(dir)) return false
  const files = readdirSync(dir).filter((f) => f.endsWith('.node'))
  const since = sourcesMtime(packageDir)
  return files.length > 0 && files.every((f) => statSync(path.join(dir, f)).mtimeMs >= since)
}

/**
 * @param {{ cwd: string, nodeGyp: string }} opts
 * @returns {Promise<void>}
 */
function runPrebuildify({ cwd, nodeGyp }) {
  const require = createRequire(import.meta.url)
  /** @type {(opts: object, cb: (err?: Error) => void) => void} */
  let prebuildify
  try {
    prebuildify = require('prebuildify')
  } catch (cause) {
    throw new Error('prebuildify is not installed (it is a development dependency of @cnm/addon-build)', { cause })
  }
  return new Promise((resolve, reject) => {
    // One N-API build for this Node's headers, named node.napi.<libc>.node as prebuildify's CLI does.
    const targets = [{ runtime: 'node', target: process.versions.node }]
    const opts = { cwd, targets, napi: true, name: 'node.napi', strip: true, tagLibc: true, nodeGyp, quiet: true }
    prebuildify(opts, (err) => (err ? reject(err) : resolve()))
  })
}

/**
 * prebuildify spawns node-gyp as one command: the JavaScript node-gyp that npm or pnpm names is run
 * by the same Node through a small executable wrapper (it need not be executable itself).
 * @param {string} work @param {string} file @param {string[]} args
 */
function nodeGypCommand(work, file, args) {
  const gyp = args[0]
  if (file === 'node-gyp' || gyp === undefined || gyp === 'rebuild') return 'node-gyp'
  const wrapper = path.join(work, 'node-gyp.cjs')
  writeFileSync(wrapper, `#!${file}\nrequire(${JSON.stringify(gyp)})\n`, { mode: 0o755, flag: 'wx' })
  return wrapper
}

/**
 * Builds the package's addons into `prebuilds/`, unless they are newer than the sources (or
 * `force`). Resolves to an exit status. @param {import('./index.js').PrebuildOptions} [options]
 */
export async function prebuildAddon(options = {}) {
  const { packageDir = process.cwd(), env = process.env, execPath = process.execPath, force = false } = options
  const name = options.label ?? packageName(packageDir)
  if (process.platform !== 'linux') {
    console.error(`${name}: prebuilds are made on Linux`)
    return 1
  }
  if (!existsSync(path.join(packageDir, 'binding.gyp'))) {
    console.error(`${name}: no binding.gyp in ${packageDir}`)
    return 1
  }
  if (!gypTargets(packageDir).some((t) => t.addon)) {
    console.error(`${name}: binding.gyp has no addon target to prebuild`)
    return 1
  }
  if (!force && prebuildIsFresh(packageDir)) return 0
  const { file, args, nodedir } = nodeGypInvocation({ execPath, env })
  if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
    console.error(`${name}: Node headers not found under ${nodedir}/include/node; set npm_config_nodedir`)
    return 1
  }
  const work = mkdtempSync(path.join(tmpdir(), 'cnm-prebuild-'))
  const previous = process.env.npm_config_nodedir
  try {
    cpSync(path.join(packageDir, 'binding.gyp'), path.join(work, 'binding.gyp'))
    const native = path.join(packageDir, 'native')
    if (existsSync(native)) cpSync(native, path.join(work, 'native'), { recursive: true, verbatimSymlinks: true })
    // prebuildify hands its own process's environment to node-gyp.
    process.env.npm_config_nodedir = nodedir
    await runPrebuildify({ cwd: work, nodeGyp: nodeGypCommand(work, file, args) })
    const out = prebuildDir(packageDir)
    rmSync(out, { recursive: true, force: true })
    mkdirSync(path.dirname(out), { recursive: true })
    cpSync(prebuildDir(work), out, { recursive: true })
    console.log(`${name}: prebuilt ${readdirSync(out).join(', ')} into ${path.relative(packageDir, out)}`)
    return 0
  } catch (err) {
    console.error(`${name}: prebuild failed: ${err instanceof Error ? err.message : String(err)}`)
    return 1
  } finally {
    if (previous === undefined) delete process.env.npm_config_nodedir
    else process.env.npm_config_nodedir = previous
    rmSync(work, { recursive: true, force: true })
  }
}

// What a package's binding.gyp builds and whether a usable binary is already there: a prebuild
// for this platform inside the tarball, or a build newer than every native source.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

/** @param {string} packageDir */
export function gypTargets(packageDir) {
  const gyp = JSON.parse(readFileSync(path.join(packageDir, 'binding.gyp'), 'utf8'))
  return (gyp.targets ?? []).map((/** @type {{ target_name: string, type?: string }} */ t) => ({
    name: t.target_name,
    file: t.type === 'executable' ? t.target_name : `${t.target_name}.node`,
    addon: t.type !== 'executable',
  }))
}

/** @param {string} dir @returns {number} */
function newestMtime(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/** The newest modification time of `binding.gyp` and everything under `native/`. @param {string} packageDir */
export function sourcesMtime(packageDir) {
  const gyp = statSync(path.join(packageDir, 'binding.gyp')).mtimeMs
  const native = path.join(packageDir, 'native')
  return Math.max(gyp, existsSync(native) ? newestMtime(native) : 0)
}

/** Whether `build/Release` holds every target, each newer than the sources. @param {string} packageDir */
export function buildIsFresh(packageDir) {
  const since = sourcesMtime(packageDir)
  const targets = gypTargets(packageDir)
  return (
    targets.length > 0 &&
    targets.every((t) => {
      const file = path.join(packageDir, 'build', 'Release', t.file)
      return existsSync(file) && statSync(file).mtimeMs >= since
    })
  )
}

/**
 * The prebuilt addon node-gyp-build would load for this platform from `prebuilds/`, if any
 * (never a `build/` output: node-gyp-build reads `PREBUILDS_ONLY` when it is loaded, so a fresh
 * copy is loaded with it set). @param {string} packageDir @returns {string | undefined}
 */
export function prebuiltAddon(packageDir) {
  if (!existsSync(path.join(packageDir, 'prebuilds'))) return undefined
  const require = createRequire(import.meta.url)
  const id = require.resolve('node-gyp-build/node-gyp-build.js')
  const previous = process.env.PREBUILDS_ONLY
  process.env.PREBUILDS_ONLY = '1'
  delete require.cache[id]
  try {
    return /** @type {{ path(dir: string): string }} */ (require(id)).path(packageDir)
  } catch {
    return undefined
  } finally {
    if (previous === undefined) delete process.env.PREBUILDS_ONLY
    else process.env.PREBUILDS_ONLY = previous
    delete require.cache[id]
  }
}

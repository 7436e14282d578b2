// The install step: nothing to do when the tarball's prebuilt addon loads on this machine or the
// build is newer than the sources; else `node-gyp rebuild` against the running Node's headers.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { nodeGypInvocation } from './node-gyp.js'
import { packageName } from './package-name.js'
import { prebuildIsFresh } from './prebuild.js'
import { buildIsFresh, gypTargets, prebuiltAddon } from './targets.js'

/**
 * Why no build is needed, or undefined when one is. @param {string} packageDir
 * @returns {string | undefined}
 */
function noBuildNeeded(packageDir) {
  const targets = gypTargets(packageDir)
  // A prebuild older than the sources (they were edited after it was made) does not count.
  if (targets.every((t) => t.addon) && prebuildIsFresh(packageDir)) {
    const prebuilt = prebuiltAddon(packageDir)
    if (prebuilt) return `using the prebuilt ${path.relative(packageDir, prebuilt)}`
  }
  return buildIsFresh(packageDir) ? 'build/Release is newer than the sources' : undefined
}

/** @param {import('./index.js').BuildAddonOptions} [options] */
export function buildAddon(options = {}) {
  const {
    packageDir = process.cwd(),
    platform = process.platform,
    env = process.env,
    execPath = process.execPath,
    stdio = 'inherit',
    optional = false,
  } = options
  const name = options.label ?? packageName(packageDir)
  if (platform !== 'linux') {
    console.warn(`${name}: the native addon is Linux-only; skipping its build`)
    return 0
  }
  if (!existsSync(path.join(packageDir, 'binding.gyp'))) {
    console.error(`${name}: no binding.gyp in ${packageDir}`)
    return 1
  }
  const force = options.force ?? (env.npm_config_build_from_source === 'true' || env.CNM_BUILD_FROM_SOURCE === '1')
  const reason = force ? undefined : noBuildNeeded(packageDir)
  if (reason) {
    console.log(`${name}: ${reason}; no build needed`)
    return 0
  }
  const status = compile(name, packageDir, { env, execPath, stdio })
  if (status !== 0 && optional) {
    console.warn(`${name}: the optional native build failed (status ${status}); continuing without it`)
    return 0
  }
  return status
}

/**
 * @param {string} name @param {string} packageDir
 * @param {{ env: NodeJS.ProcessEnv, execPath: string, stdio: import('node:child_process').StdioOptions }} o
 */
function compile(name, packageDir, { env, execPath, stdio }) {
  const { file, args, nodedir } = nodeGypInvocation({ execPath, env })
  if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
    console.error(`${name}: Node headers not found under ${nodedir}/include/node; set npm_config_nodedir`)
    return 1
  }
  const result = spawnSync(file, args, { cwd: packageDir, stdio, env })
  if (result.error) {
    console.error(`${name}: could not run node-gyp: ${result.error.message}`)
    return 1
  }
  return result.status ?? 1
}

// Builds a package's native addon at install time, offline: node-gyp is pointed at the running
// Node's own headers (its install prefix) so it never tries to download them. Plain JavaScript
// with no dependencies, because it runs from an install script, before anything is compiled.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'

/** @param {string} [execPath] */
export function nodePrefix(execPath = process.execPath) {
  return path.resolve(path.dirname(execPath), '..')
}

/** @param {import('./index.js').NodeGypOptions} [options] */
export function nodeGypInvocation({ execPath = process.execPath, env = process.env, exists = existsSync } = {}) {
  const prefix = nodePrefix(execPath)
  const nodedir = env.npm_config_nodedir || prefix
  // npm and pnpm name their node-gyp for lifecycle scripts; run by hand, use the one npm bundles.
  const bundled = path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
  const gyp = env.npm_config_node_gyp || (exists(bundled) ? bundled : undefined)
  const rebuild = ['rebuild', `--nodedir=${nodedir}`]
  return gyp ? { file: execPath, args: [gyp, ...rebuild], nodedir } : { file: 'node-gyp', args: rebuild, nodedir }
}

/** @param {string} packageDir */
function packageName(packageDir) {
  try {
    const { name } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'))
    if (typeof name === 'string' && name) return name
  } catch {}
  return path.basename(packageDir)
}

/** @param {import('./index.js').BuildAddonOptions} [options] */
export function buildAddon(options = {}) {
  const {
    packageDir = process.cwd(),
    platform = process.platform,
    env = process.env,
    execPath = process.execPath,
    stdio = 'inherit',
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
  const { file, args, nodedir } = nodeGypInvocation({ execPath, env })
  if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
    console.error(`${name}: Node headers not found under ${nodedir}/include/node; set npm_config_nodedir`)
    return 1
  }
  const result = spawnSync(file, args, { cwd: packageDir, stdio })
  if (result.error) {
    console.error(`${name}: could not run node-gyp: ${result.error.message}`)
    return 1
  }
  return result.status ?? 1
}

// Where node-gyp and Node's headers are: the running Node's own prefix, so node-gyp never tries
// to download the headers.
import { existsSync } from 'node:fs'
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

#!/usr/bin/env node
// Builds the native addon at install time, offline: node-gyp is pointed at the running Node's own
// headers (its install prefix) so it never tries to download them. Works under npm and pnpm, which
// both put their bundled node-gyp on PATH for lifecycle scripts.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const prefix = path.resolve(path.dirname(process.execPath), '..')
const nodedir = process.env.npm_config_nodedir || prefix

if (process.platform !== 'linux') {
  console.warn('@cnm/firewall: the in-process nftables addon is Linux-only; skipping its build')
  process.exit(0)
}
if (!existsSync(path.join(nodedir, 'include', 'node', 'node_api.h'))) {
  console.error(`@cnm/firewall: Node headers not found under ${nodedir}/include/node; set npm_config_nodedir`)
  process.exit(1)
}
// npm and pnpm name their node-gyp for lifecycle scripts; run by hand, use the one npm bundles.
const bundled = path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
const gyp = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : undefined)
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []]
const result = spawnSync(cmd, [...args, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: pkgDir,
  stdio: 'inherit',
})
if (result.error) {
  console.error(`@cnm/firewall: could not run node-gyp: ${result.error.message}`)
  process.exit(1)
}
process.exit(result.status ?? 1)

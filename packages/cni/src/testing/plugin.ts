import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The built Node executable (`pnpm --filter @cnm/cni build` first): `../../dist` from `src/testing` and `dist/testing` alike. */
export const PLUGIN_BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url))

/** One attachment as a runtime names it. */
export interface Call {
  containerId?: string
  netns?: string
  ifname?: string
  args?: string
  /** Extra or overriding environment (CNI_* or CNM_*). */
  env?: Record<string, string | undefined>
}

/**
 * What one run of the plugin gave: its exit status (0 on success, 1 with an error JSON on stdout),
 * its output streams, and stdout parsed as JSON when it is.
 */
export interface PluginResult {
  status: number
  stdout: string
  stderr: string
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown> | undefined
}

/**
 * Runs the plugin exactly as a runtime does: `CNI_*` in the environment, the configuration on
 * stdin, the answer on stdout and in the exit code. `base` holds the environment every call shares
 * (the store, the attachment directory, a daemon socket or none); `program` is the executable
 * (the Node one by default, or an installed `cnm`).
 */
export function runPlugin(
  command: string,
  conf: unknown,
  call: Call,
  base: Record<string, string>,
  program: string[] = [process.execPath, PLUGIN_BIN],
): PluginResult {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...base }
  const add = (k: string, v: string | undefined): void => {
    if (v !== undefined) env[k] = v
  }
  add('CNI_COMMAND', command)
  add('CNI_CONTAINERID', call.containerId)
  add('CNI_NETNS', call.netns)
  add('CNI_IFNAME', call.ifname)
  add('CNI_ARGS', call.args)
  add('CNI_PATH', '/opt/cni/bin')
  for (const [k, v] of Object.entries(call.env ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  const [file, ...args] = program as [string, ...string[]]
  const res = spawnSync(file, args, {
    input: typeof conf === 'string' ? conf : JSON.stringify(conf),
    encoding: 'utf8',
    env,
    timeout: 60_000,
  })
  if (res.error) throw res.error
  let json: Record<string, unknown> | undefined
  try {
    json = res.stdout.trim() ? (JSON.parse(res.stdout) as Record<string, unknown>) : undefined
  } catch {}
  return { status: res.status ?? -1, stdout: res.stdout, stderr: res.stderr, json }
}

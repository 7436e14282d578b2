import path from 'node:path'
import { type Call, type PluginResult, runPlugin } from './plugin.js'

/** Debian's CNI reference plugins (`containernetworking-plugins`): cnm's peer in tests and benchmarks. */
export const REFERENCE_PLUGINS = '/usr/lib/cni'

/**
 * Runs one reference plugin (`bridge`, `portmap`, `loopback`, …) as a runtime does, with the
 * configuration's `cniVersion` and `name` filled in and `CNI_PATH` at the reference plugins (for
 * `bridge`'s IPAM).
 */
export function runReference(
  plugin: string,
  command: string,
  conf: Record<string, unknown>,
  call: Call,
  network: { cniVersion: string; name: string },
): PluginResult {
  return runPlugin(
    command,
    { ...network, ...conf },
    { ...call, env: { CNI_PATH: REFERENCE_PLUGINS, ...call.env } },
    {},
    [path.join(REFERENCE_PLUGINS, plugin)],
  )
}

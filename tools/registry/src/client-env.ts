import { spawnSync } from 'node:child_process'

/**
 * The environment of an npm or pnpm client that talks only to `registry`: every `npm_config_*`,
 * `npm_package_*` and `npm_lifecycle_*` inherited from a surrounding package manager is dropped.
 */
export function clientEnv(settings: Record<string, string>, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(base)) {
    if (/^(npm_(config|package|lifecycle)_|pnpm_|PNPM_)/i.test(key)) continue
    env[key] = value
  }
  return {
    ...env,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'warn',
    ...settings,
  }
}

/** The registry npm is configured with on this machine (the uplink for packages outside `@cnm`). */
export function configuredRegistry(): string {
  const res = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', env: clientEnv({}) })
  const url = res.stdout.trim()
  if (res.status !== 0 || !/^https?:\/\//.test(url)) throw new Error(`npm config get registry failed: ${res.stderr}`)
  return url
}

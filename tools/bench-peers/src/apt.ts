// Debian packages for the peers, installed with apt-get while no service may start.
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import { childEnv, run, which } from './run.js'

/** Debian's hook that invoke-rc.d asks before starting a service; exit 101 means "do not". */
export const POLICY_RC_D = '/usr/sbin/policy-rc.d'
const DENY_ALL = '#!/bin/sh\n# @cnm/bench-peers: no service starts while it installs packages\nexit 101\n'
const APT_TIMEOUT_MS = 600_000

export interface AptResult {
  ok: boolean
  /** Why not, when `ok` is false. */
  reason?: string
}

/**
 * `apt-get update` then `apt-get install -y` of `packages`, as root, with a policy-rc.d that exits
 * 101 in place so no package starts a service (in whatever namespace the caller is in). An
 * existing policy-rc.d is left as it is; one written here is removed afterwards. Must run while
 * the process still has the machine's network.
 */
export async function aptInstall(
  packages: readonly string[],
  log: (msg: string) => void = () => {},
): Promise<AptResult> {
  if (packages.length === 0) return { ok: true }
  const aptGet = which('apt-get')
  if (!aptGet) return { ok: false, reason: 'apt-get not found (not a Debian system?)' }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: cannot apt-get install' }
  const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive' })
  const ownPolicy = !existsSync(POLICY_RC_D)
  if (ownPolicy) writeFileSync(POLICY_RC_D, DENY_ALL, { mode: 0o755 })
  try {
    log('apt-get update')
    const upd = await run(aptGet, ['update'], { env, allowFail: true, timeoutMs: APT_TIMEOUT_MS })
    if (upd.exitCode !== 0) log(`apt-get update failed (${upd.exitCode}); trying the install anyway`)
    log(`apt-get install -y ${packages.join(' ')}`)
    const inst = await run(aptGet, ['install', '-y', ...packages], { env, allowFail: true, timeoutMs: APT_TIMEOUT_MS })
    if (inst.exitCode !== 0) {
      const tail = inst.stderr.trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `apt-get install ${packages.join(' ')} failed: ${tail}` }
    }
    return { ok: true }
  } finally {
    if (ownPolicy) rmSync(POLICY_RC_D, { force: true })
  }
}

/** The installed version of a Debian package, if any. */
export async function debVersion(pkg: string): Promise<string | undefined> {
  const dpkgQuery = which('dpkg-query')
  if (!dpkgQuery) return undefined
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
  const r = await run(dpkgQuery, ['-W', '-f=${Version}', pkg], { allowFail: true })
  return r.exitCode === 0 && r.stdout ? r.stdout.trim() : undefined
}

import { createRequire } from 'node:module'
import { ERR_ADDON_UNAVAILABLE, NetlinkError } from './errors.js'

/** The native addon's surface: each call returns 0 or a negative errno. */
export interface NetnsAddon {
  unshare(flags: number): number
  setns(fd: number, nstype: number): number
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number
  umount2(target: string, flags: number): number
}

let cached: NetnsAddon | undefined

/** Loads `build/Release/cnm_netns.node` (built by the package's install script). */
export function loadAddon(): NetnsAddon {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  try {
    cached = require('../build/Release/cnm_netns.node') as NetnsAddon
  } catch (cause) {
    throw new NetlinkError(
      ERR_ADDON_UNAVAILABLE,
      '@cnm/netlink: the namespace addon is not built (reinstall the package, or run cnm-build-addon in its directory)',
      { cause },
    )
  }
  return cached
}

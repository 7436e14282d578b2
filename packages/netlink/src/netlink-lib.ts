import { createRequire } from 'node:module'
import type * as NetlinkPkg from 'netlink'

const require = createRequire(import.meta.url)

/** The parts of the `netlink` npm package that cnm uses. */
export type NetlinkLib = Pick<
  typeof NetlinkPkg,
  'createNetlink' | 'createRtNetlink' | 'parseError' | 'AttrStream' | 'rt'
>

/**
 * The `netlink` package without its index: the index also loads the nl80211 (Wi-Fi), generic
 * netlink and WireGuard codecs, which cnm never uses and which were ~40% of the package's load
 * time — paid by every `cnm` command that runs in process (profiled with `node --cpu-prof`,
 * BENCHMARKS.md). The package has no `exports` map, so its files are reachable by path; the
 * version is pinned exactly (0.3.0), so these paths cannot move under us.
 */
export const nl: NetlinkLib = {
  createNetlink: (require('netlink/dist/netlink.js') as typeof NetlinkPkg).createNetlink,
  parseError: (require('netlink/dist/structs.js') as typeof NetlinkPkg).parseError,
  createRtNetlink: (require('netlink/dist/rt/rt.js') as typeof NetlinkPkg).createRtNetlink,
  AttrStream: (require('netlink/dist/structs.js') as typeof NetlinkPkg).AttrStream,
  rt: require('netlink/dist/rt/structs.js') as typeof NetlinkPkg.rt,
}

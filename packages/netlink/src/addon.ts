import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { ERR_ADDON_UNAVAILABLE, NetlinkError } from './errors.js'

/** The native addon's surface: each call returns 0 or a negative errno. */
export interface NetnsAddon {
  /** unshare(2) for the calling thread (`CLONE_NEWNET` and friends); 0, or a negative errno. */
  unshare(flags: number): number
  /** setns(2): moves the calling thread into the namespace open at `fd`; 0, or a negative errno. */
  setns(fd: number, nstype: number): number
  /** mount(2) (`MS_BIND` to bind a namespace file at `target`); 0, or a negative errno. */
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number
  /** umount2(2) (`MNT_DETACH` for a lazy unmount); 0, or a negative errno. */
  umount2(target: string, flags: number): number
  /**
   * A netlink socket of `protocol` (bound, close-on-exec, blocking with a `timeoutMs` receive and
   * send timeout), in the calling thread's namespace; its fd, or a negative errno.
   */
  netlinkOpen(protocol: number, timeoutMs: number): number
  /**
   * Sends `request` (a whole netlink message, sequence number `seq`; `dump`: a dump request) on `fd` and reads its answer
   * on libuv's thread pool (the kernel does a dump's work inside those reads and a request's inside
   * the send, which on the event loop would hold it): a dump's parts up to NLMSG_DONE, or a
   * request's answer (none for an acknowledgement). Resolves with those messages, headers
   * included, or rejects with an Error carrying the positive `errno`.
   */
  netlinkRequest(fd: number, request: Buffer, seq: number, dump: boolean): Promise<Buffer>
}

let cached: NetnsAddon | undefined

/**
 * Loads the addon through node-gyp-build: `build/Release/cnm_netns.node` when the install script
 * built it, else the tarball's prebuilt `prebuilds/<platform>-<arch>/node.napi.<libc>.node`.
 */
export function loadAddon(): NetnsAddon {
  if (cached) return cached
  const require = createRequire(import.meta.url)
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown
    cached = load(fileURLToPath(new URL('..', import.meta.url))) as NetnsAddon
  } catch (cause) {
    throw new NetlinkError(
      ERR_ADDON_UNAVAILABLE,
      '@cnm/netlink: the namespace addon is not built (reinstall the package, or run cnm-build-addon in its directory)',
      { cause },
    )
  }
  return cached
}

import type * as NetlinkPkg from 'netlink'
import { NETLINK_NETFILTER } from './conntrack-codec.js'
import { ERR_NETLINK, kernelError, NetlinkError } from './errors.js'
import { nl } from './netlink-lib.js'

/**
 * A NETLINK_NETFILTER socket in the calling thread's namespace that has joined the multicast
 * `group` (nf_tables changes, new conntrack entries), with a receive buffer of `bufferBytes` (the
 * kernel caps it at `net.core.rmem_max`), not keeping the process alive. Failures are typed,
 * naming `what`.
 */
export function openGroupSocket(group: number, bufferBytes: number, what: string): NetlinkPkg.NetlinkSocket {
  try {
    const sock = nl.createNetlink(NETLINK_NETFILTER, { localPort: 0 } as Parameters<typeof nl.createNetlink>[1])
    sock.addMembership(group)
    sock.setRecvBufferSize(bufferBytes)
    sock.unref()
    return sock
  } catch (cause) {
    const errno = (cause as { errno?: number }).errno
    if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
    throw new NetlinkError(ERR_NETLINK, `${what}: ${(cause as Error).message}`, { cause })
  }
}

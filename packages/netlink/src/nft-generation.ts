import type * as NetlinkPkg from 'netlink'
import { NETLINK_NETFILTER } from './conntrack-codec.js'
import { ERR_NETLINK, ERR_NETLINK_TIMEOUT, kernelError, NetlinkError } from './errors.js'
import { nl } from './netlink-lib.js'
import { NFNL_SUBSYS_NFTABLES } from './nft-events.js'
import { decodeAttrs } from './nlattr.js'

const NFT_MSG_GETGEN = 16
const NFT_MSG_NEWGEN = 15
const NFTA_GEN_ID = 1
const NLMSG_ERROR = 2

/**
 * The nf_tables generation of the calling thread's network namespace: a number the kernel bumps
 * with every committed nf_tables transaction (anyone's: nft, iptables-nft, firewalld, cnm). Equal
 * numbers mean nothing in nf_tables changed between two reads, so what was read of the ruleset in
 * between is still true. One small netlink request (no ruleset dump).
 */
export async function nftGeneration(timeoutMs = 5000): Promise<number> {
  const what = 'read the nf_tables generation'
  let sock: NetlinkPkg.NetlinkSocket
  try {
    sock = nl.createNetlink(NETLINK_NETFILTER, { localPort: 0 } as Parameters<typeof nl.createNetlink>[1])
  } catch (cause) {
    const errno = (cause as { errno?: number }).errno
    if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
    throw new NetlinkError(ERR_NETLINK, `${what}: ${(cause as Error).message}`, { cause })
  }
  try {
    // nfgenmsg: family AF_UNSPEC, version 0, res_id 0.
    const [msgs] = await sock.request((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN, [Buffer.alloc(4)], {
      timeout: timeoutMs,
      checkError: false,
    })
    for (const m of msgs) {
      if (m.type === NLMSG_ERROR) {
        const errno = Math.abs(nl.parseError(Buffer.from(m.data), m.flags).errno)
        if (errno !== 0) throw kernelError(errno, what)
        continue
      }
      if ((m.type & 0xff) !== NFT_MSG_NEWGEN) continue
      const id = decodeAttrs(m.data.subarray(4)).get(NFTA_GEN_ID)?.[0]
      if (id && id.length >= 4) return id.readUInt32BE(0)
    }
    throw new NetlinkError(ERR_NETLINK, `${what}: no generation in the kernel's answer`)
  } catch (cause) {
    if (cause instanceof NetlinkError) throw cause
    const message = (cause as Error).message ?? ''
    if (message.includes('Timeout'))
      throw new NetlinkError(ERR_NETLINK_TIMEOUT, `${what}: no answer in ${timeoutMs} ms`, { cause })
    const errno = (cause as { errno?: number }).errno
    if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
    throw new NetlinkError(ERR_NETLINK, `${what}: ${message}`, { cause })
  } finally {
    sock.close()
  }
}

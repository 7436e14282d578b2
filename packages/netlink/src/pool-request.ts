import { loadAddon } from './addon.js'
import { ERR_NETLINK, ERR_NETLINK_TIMEOUT, kernelError, NetlinkError } from './errors.js'

const NLMSG_HDRLEN = 16
const NLM_F_REQUEST = 0x1
const NLM_F_ACK = 0x4
const NLM_F_DUMP = 0x300
const ETIMEDOUT = 110

/** One netlink message of an answer: its type and its payload (after the header). */
export interface PoolMessage {
  type: number
  data: Buffer
}

/** The messages of an answer as the addon returns them (headers included), split. */
function splitMessages(buf: Buffer): PoolMessage[] {
  const out: PoolMessage[] = []
  for (let at = 0; at + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(at)
    if (len < NLMSG_HDRLEN || at + len > buf.length) break
    out.push({ type: buf.readUInt16LE(at + 4), data: buf.subarray(at + NLMSG_HDRLEN, at + len) })
    at += (len + 3) & ~3
  }
  return out
}

/**
 * At most this many requests of this module hold one of libuv's pool threads at once (4 by
 * default, shared with file I/O, DNS lookups and libnftables' transactions): a link delete the
 * kernel keeps for seconds must not leave the firewall's repairs waiting for a thread.
 */
const MAX_ON_POOL = 2
let onPool = 0
const waiting: (() => void)[] = []
/** A slot on the pool, held until the native request settles (not when a caller stops waiting). */
async function slot(): Promise<() => void> {
  if (onPool >= MAX_ON_POOL) await new Promise<void>((resolve) => waiting.push(resolve))
  else onPool++
  return () => {
    const next = waiting.shift()
    if (next)
      next() // the slot passes on
    else onPool--
  }
}

/**
 * Sends one request (`type`, `flags`, sequence number `seq`, `payload`; `dump`: a dump, with
 * NLM_F_DUMP) on the addon's netlink socket `fd` and reads its answer on libuv's thread pool
 * (native/pool.c): a dump's messages, or a request's (none for an acknowledgement: NLM_F_ACK is
 * asked for every request but a dump). A kernel error is a `NetlinkError` with the errno's name,
 * naming `what`.
 */
export async function poolRequest(
  fd: number,
  message: { type: number; flags: number; seq: number; payload: Buffer; dump: boolean },
  what: string,
  timeoutMs: number,
): Promise<PoolMessage[]> {
  const { type, flags, seq, payload, dump } = message
  const request = Buffer.alloc(NLMSG_HDRLEN + payload.length)
  request.writeUInt32LE(request.length, 0)
  request.writeUInt16LE(type, 4)
  request.writeUInt16LE(flags | NLM_F_REQUEST | (dump ? NLM_F_DUMP : NLM_F_ACK), 6)
  request.writeUInt32LE(seq, 8)
  payload.copy(request, NLMSG_HDRLEN)
  const release = await slot()
  try {
    return splitMessages(await loadAddon().netlinkRequest(fd, request, seq, dump))
  } catch (cause) {
    const errno = (cause as { errno?: number }).errno
    if (errno === ETIMEDOUT) {
      throw new NetlinkError(ERR_NETLINK_TIMEOUT, `${what}: no answer from the kernel in ${timeoutMs} ms`, { cause })
    }
    if (typeof errno === 'number') throw kernelError(errno, what, cause)
    throw new NetlinkError(ERR_NETLINK, `${what}: ${(cause as Error).message}`, { cause })
  } finally {
    release()
  }
}

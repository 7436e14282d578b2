import type * as NetlinkPkg from 'netlink'
import {
  type ConntrackEntry,
  CT_MSG,
  deleteRequest,
  dumpRequest,
  NETLINK_NETFILTER,
  parseEntry,
} from './conntrack-codec.js'
import { type ConntrackMatch, compileMatches } from './conntrack-match.js'
import { ERR_HANDLE_CLOSED, ERR_NETLINK, ERR_NETLINK_TIMEOUT, kernelError, NetlinkError } from './errors.js'
import { nl } from './netlink-lib.js'

const NLM_F_DUMP = 0x300
const NLMSG_ERROR = 2
const ENOENT = 2

/**
 * A NETLINK_NETFILTER socket on the conntrack subsystem (ctnetlink): dumps the connection
 * tracking table and deletes entries by their original tuple. Requests are serialised (one dump
 * at a time), each has a timeout, and kernel errors become `NetlinkError`s with the errno name.
 */
export class ConntrackSocket {
  private readonly sock: NetlinkPkg.NetlinkSocket
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  /** Must be called with the calling thread in the target namespace (synchronously). */
  constructor(private readonly timeoutMs: number) {
    try {
      // Port id 0: the kernel assigns one.
      this.sock = nl.createNetlink(NETLINK_NETFILTER, { localPort: 0 } as Parameters<typeof nl.createNetlink>[1])
    } catch (cause) {
      const errno = (cause as { errno?: number }).errno
      if (typeof errno === 'number') throw kernelError(Math.abs(errno), 'open a conntrack netlink socket', cause)
      throw new NetlinkError(ERR_NETLINK, `open a conntrack netlink socket: ${(cause as Error).message}`, { cause })
    }
  }

  /** Every entry of the namespace's conntrack table, IPv4 and IPv6. */
  list(): Promise<ConntrackEntry[]> {
    return this.serial(() => this.dump())
  }

  /**
   * Deletes the entries that match (any of `matches`), from one dump of the table; returns how many
   * it deleted (an entry that went away meanwhile is not counted and is no error).
   */
  flush(matches: ConntrackMatch | readonly ConntrackMatch[]): Promise<number> {
    let selected: (e: ConntrackEntry) => boolean
    try {
      selected = compileMatches(matches)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.serial(async () => {
      let deleted = 0
      for (const e of (await this.dump()).filter(selected)) if (await this.delete(e)) deleted++
      return deleted
    })
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => undefined)
    return p
  }

  private async send(type: number, flags: number, payload: Buffer, what: string): Promise<NetlinkPkg.NetlinkMessage[]> {
    if (this.closed) throw new NetlinkError(ERR_HANDLE_CLOSED, `${what}: the netlink handle is closed`)
    try {
      const [msgs] = await this.sock.request(type, [payload], { flags, timeout: this.timeoutMs, checkError: false })
      return msgs
    } catch (cause) {
      const message = (cause as Error).message ?? ''
      if (message.includes('Timeout')) {
        throw new NetlinkError(ERR_NETLINK_TIMEOUT, `${what}: no answer from the kernel in ${this.timeoutMs} ms`, {
          cause,
        })
      }
      const errno = (cause as { errno?: number }).errno
      if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
      throw new NetlinkError(ERR_NETLINK, `${what}: ${message}`, { cause })
    }
  }

  private async dump(): Promise<ConntrackEntry[]> {
    const what = 'list conntrack entries'
    const out: ConntrackEntry[] = []
    for (const m of await this.send(CT_MSG.GET, NLM_F_DUMP, dumpRequest(), what)) {
      if (m.type === NLMSG_ERROR) {
        const errno = Math.abs(nl.parseError(Buffer.from(m.data), m.flags).errno)
        if (errno !== 0) throw kernelError(errno, what)
        continue
      }
      if (m.type !== CT_MSG.NEW) continue
      const e = parseEntry(m.data)
      if (e) out.push(e)
    }
    return out
  }

  /** Deletes one entry; false when it is gone already. */
  private async delete(e: ConntrackEntry): Promise<boolean> {
    const o = e.original
    const what = `delete conntrack entry ${o.src}${o.srcPort === undefined ? '' : `:${o.srcPort}`} -> ${o.dst}${o.dstPort === undefined ? '' : `:${o.dstPort}`} (protocol ${o.proto})`
    const [reply] = await this.send(CT_MSG.DELETE, 0, deleteRequest(e), what)
    if (reply?.type !== NLMSG_ERROR) return true
    const errno = Math.abs(nl.parseError(Buffer.from(reply.data), reply.flags).errno)
    if (errno === ENOENT) return false
    if (errno !== 0) throw kernelError(errno, what)
    return true
  }

  /** Closes the socket; pending and later requests fail with ERR_HANDLE_CLOSED. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.close()
  }
}

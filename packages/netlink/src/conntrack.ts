import { closeSync } from 'node:fs'
import type * as NetlinkPkg from 'netlink'
import { loadAddon } from './addon.js'
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
import { type PoolMessage, poolRequest } from './pool-request.js'

const NLM_F_DUMP = 0x300
const NLMSG_ERROR = 2

/**
 * A NETLINK_NETFILTER socket on the conntrack subsystem (ctnetlink): dumps the connection
 * tracking table and deletes entries by their original tuple. Requests are serialised (one dump
 * at a time), each has a timeout, and kernel errors become `NetlinkError`s with the errno name.
 *
 * Its requests are sent and answered on libuv's thread pool through a socket the addon opened
 * (native/pool.c): the kernel walks its whole hash table (262,144 buckets here, ~13 ms) inside a
 * dump's reads, which on the event loop would hold up every other request of a daemon for that
 * long. Without the addon's socket (none could be opened), the package's socket, on the event loop.
 */
export class ConntrackSocket {
  /** The addon's socket (undefined: none open; then the package's, `sock`, if it had to be made). */
  private fd: number | undefined
  private sock: NetlinkPkg.NetlinkSocket | undefined
  private seq = 0
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  /**
   * Must be called with the calling thread in the target namespace (synchronously).
   * `inNamespace` runs a function with the thread in it again (for a socket opened later).
   */
  constructor(
    private readonly timeoutMs: number,
    private readonly inNamespace: <T>(fn: () => T) => T = (fn) => fn(),
  ) {
    this.open((fn) => fn())
  }

  /** The addon's socket, else (no addon, no descriptor to spare) the package's; throws if neither. */
  private open(inNamespace: <T>(fn: () => T) => T): void {
    const what = 'open a conntrack netlink socket'
    let fd = -1
    try {
      fd = inNamespace(() => loadAddon().netlinkOpen(NETLINK_NETFILTER, this.timeoutMs))
    } catch {} // no addon: the package's socket
    if (fd >= 0) {
      this.fd = fd
      return
    }
    if (this.sock) return
    try {
      // Port id 0: the kernel assigns one.
      this.sock = inNamespace(() =>
        nl.createNetlink(NETLINK_NETFILTER, { localPort: 0 } as Parameters<typeof nl.createNetlink>[1]),
      )
    } catch (cause) {
      const errno = (cause as { errno?: number }).errno
      if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
      throw new NetlinkError(ERR_NETLINK, `${what}: ${(cause as Error).message}`, { cause })
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

  /**
   * Sends one request and returns the messages that answered it (none for an acknowledgement);
   * a kernel error is thrown, named.
   */
  private async send(type: number, flags: number, payload: Buffer, what: string): Promise<PoolMessage[]> {
    if (this.closed) throw new NetlinkError(ERR_HANDLE_CLOSED, `${what}: the netlink handle is closed`)
    if (this.fd === undefined && this.sock === undefined) this.open(this.inNamespace)
    const fd = this.fd
    if (fd !== undefined) {
      this.seq = (this.seq + 1) >>> 0
      const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP
      try {
        return await poolRequest(fd, { type, flags, seq: this.seq, payload, dump }, what, this.timeoutMs)
      } catch (err) {
        // A dump the kernel still runs on this socket would answer the next one EBUSY: a new one.
        if ((err as { code?: unknown }).code === ERR_NETLINK_TIMEOUT) {
          this.fd = undefined
          try {
            closeSync(fd)
          } catch {} // gone with it
        }
        throw err
      }
    }
    try {
      const [msgs] = await (this.sock as NetlinkPkg.NetlinkSocket).request(type, [payload], {
        flags,
        timeout: this.timeoutMs,
        checkError: false,
      })
      const out: PoolMessage[] = []
      for (const m of msgs) {
        const data = Buffer.from(m.data)
        if (m.type === NLMSG_ERROR) {
          const errno = Math.abs(nl.parseError(data, m.flags).errno)
          if (errno !== 0) throw Object.assign(new Error(`errno ${errno}`), { errno })
          continue
        }
        out.push({ type: m.type, data })
      }
      return out
    } catch (cause) {
      const message = (cause as Error).message ?? ''
      const errno = (cause as { errno?: number }).errno
      if (message.includes('Timeout')) {
        throw new NetlinkError(ERR_NETLINK_TIMEOUT, `${what}: no answer from the kernel in ${this.timeoutMs} ms`, {
          cause,
        })
      }
      if (typeof errno === 'number') throw kernelError(Math.abs(errno), what, cause)
      throw new NetlinkError(ERR_NETLINK, `${what}: ${message}`, { cause })
    }
  }

  private async dump(): Promise<ConntrackEntry[]> {
    const out: ConntrackEntry[] = []
    for (const m of await this.send(CT_MSG.GET, NLM_F_DUMP, dumpRequest(), 'list conntrack entries')) {
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
    try {
      await this.send(CT_MSG.DELETE, 0, deleteRequest(e), what)
      return true
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return false
      throw err
    }
  }

  /**
   * Closes the socket; later requests fail with ERR_HANDLE_CLOSED (the addon's socket once a
   * request on the thread pool is done).
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock?.close()
    const fd = this.fd
    if (fd === undefined) return
    void this.queue.then(() => {
      try {
        closeSync(fd)
      } catch {} // nothing more to do with it
    })
  }
}

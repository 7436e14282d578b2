import { closeSync } from 'node:fs'
import type * as NetlinkPkg from 'netlink'
import { loadAddon } from './addon.js'
import { ERR_HANDLE_CLOSED, ERR_NETLINK, ERR_NETLINK_TIMEOUT, kernelError, NetlinkError } from './errors.js'
import { nl } from './netlink-lib.js'
import { poolRequest } from './pool-request.js'

export type RtMessage = NetlinkPkg.rt.Message
export type LinkMessage = NetlinkPkg.rt.LinkMessage
export type AddressMessage = NetlinkPkg.rt.AddressMessage
export type RouteMessage = NetlinkPkg.rt.RouteMessage

export const DEFAULT_TIMEOUT_MS = 5000

export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const

export const NLM_F = { REQUEST: 1, ACK: 4, DUMP: 0x300, REPLACE: 0x100, EXCL: 0x200, CREATE: 0x400 } as const
const NLMSG_ERROR = 2
const NETLINK_ROUTE = 0

/** What a request builds its payload from: the package's message formatters write into `out`. */
export type Build = (out: NetlinkPkg.AttrStream) => void

/**
 * One rtnetlink socket, fixed to the namespace it was created in. Requests are serialised (the
 * package breaks on two dumps at once), each has a timeout, and kernel errors become
 * `NetlinkError`s whose `code` is the errno name and whose message names the operation.
 */
export class RtnlSocket {
  private readonly sock: NetlinkPkg.RtNetlinkSocket
  private queue: Promise<unknown> = Promise.resolve()
  private closed = false

  /**
   * Must be called with the calling thread in the target namespace (synchronously).
   * `inNamespace` runs a function with the thread in it again (for a socket opened later).
   */
  constructor(
    private readonly timeoutMs: number = DEFAULT_TIMEOUT_MS,
    private readonly inNamespace: <T>(fn: () => T) => T = (fn) => fn(),
  ) {
    // Port id 0: the kernel assigns one (the package's own pick is a 10-bit counter per process, which
    // runs out after ~1000 open sockets: "Couldn't find a free address").
    this.sock = nl.createRtNetlink({ localPort: 0 } as Parameters<typeof nl.createRtNetlink>[0])
  }

  /** Sends one request and returns the parsed replies (none for a plain ACK). */
  request(type: number, flags: number, build: Build, what: string): Promise<RtMessage[]> {
    if (this.closed) return Promise.reject(new NetlinkError(ERR_HANDLE_CLOSED, `${what}: the netlink handle is closed`))
    const run = (): Promise<RtMessage[]> => this.send(type, flags, build, what)
    const p = this.queue.then(run, run)
    this.queue = p.catch(() => undefined)
    return p
  }

  /**
   * A request the kernel works on for long inside its send (a link's deletion waits for the
   * device's last users: ~20 ms here), sent and answered on libuv's thread pool through a socket of
   * its own, opened for it, so the event loop is not held meanwhile. Answered by an acknowledgement
   * (or an error). Such requests do not wait for one another: one the kernel keeps (a device that
   * never becomes free) times out after `timeoutMs` and holds up nothing else; its socket is closed
   * once the kernel lets go.
   */
  async requestOffLoop(type: number, flags: number, build: Build, what: string): Promise<void> {
    if (this.closed) throw new NetlinkError(ERR_HANDLE_CLOSED, `${what}: the netlink handle is closed`)
    const out = new nl.AttrStream()
    build(out)
    const payload = Buffer.concat(out.bufs)
    let fd = -1
    try {
      fd = this.inNamespace(() => loadAddon().netlinkOpen(NETLINK_ROUTE, this.timeoutMs))
    } catch {} // the switch into the namespace needs a file descriptor too
    // None to spare (out of file descriptors: an undo must still run): on the handle's own socket,
    // as any request. Opened per request, the socket holds no descriptor between them.
    if (fd < 0) return void (await this.request(type, flags, build, what))
    const socket = fd
    const answer = poolRequest(socket, { type, flags, seq: 1, payload, dump: false }, what, this.timeoutMs)
    const close = (): void => {
      try {
        closeSync(socket)
      } catch {} // nothing more to do with it
    }
    void answer.then(close, close)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new NetlinkError(ERR_NETLINK_TIMEOUT, `${what}: no answer from the kernel in ${this.timeoutMs} ms`)),
        this.timeoutMs,
      )
      timer.unref()
    })
    try {
      await Promise.race([answer, late])
    } finally {
      clearTimeout(timer)
    }
  }

  private async send(type: number, flags: number, build: Build, what: string): Promise<RtMessage[]> {
    if (this.closed) throw new NetlinkError(ERR_HANDLE_CLOSED, `${what}: the netlink handle is closed`)
    const out = new nl.AttrStream()
    build(out)
    let msgs: NetlinkPkg.NetlinkMessage[]
    try {
      ;[msgs] = await this.sock.socket.request(type, out.bufs, { flags, timeout: this.timeoutMs, checkError: false })
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
    const first = msgs[0]
    if (first && first.type === NLMSG_ERROR) {
      const { errno } = nl.parseError(Buffer.from(first.data as Uint8Array), first.flags)
      if (errno !== 0) throw kernelError(Math.abs(errno), what)
      return []
    }
    return msgs.map((m) => nl.rt.parseMessage(m.type, Buffer.from(m.data as Uint8Array)))
  }

  /** Closes the socket for real; pending and later requests fail with ERR_HANDLE_CLOSED. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.sock.socket.close()
  }
}

/** The package's formatters, for building payloads. */
export const rt = nl.rt

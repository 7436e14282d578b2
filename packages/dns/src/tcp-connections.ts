import type { Socket as TcpSocket } from 'node:net'

/** A TCP connection of a DNS server, with what its limits need. */
interface Tracked {
  readonly client: string
  /** When its last complete message arrived (or it was accepted). */
  lastMessage: number
  idleTimer: NodeJS.Timeout | undefined
  frameTimer: NodeJS.Timeout | undefined
}

/** The limits of {@link TcpConnections}. */
export interface TcpLimits {
  /** Connections at once at most. */
  readonly maxTcpConnections: number
  /** Connections of one client address at once at most. */
  readonly maxTcpPerClient: number
  /** Closed after this long without a complete message. */
  readonly tcpIdleMs: number
  /** Closed when a message is not complete this long after its first byte. */
  readonly tcpFrameMs: number
}

/**
 * The TCP connections of one DNS server and their limits (RFC 7766 §6.2.3 in spirit): a cap per
 * client address and one for the server, where a new connection past either closes the longest
 * idle one (of that client, or of all) instead of being refused, so one client holding every slot
 * cannot lock the others out; an idle timeout counted from the last complete message, not the
 * last byte; and a deadline for a message whose first byte has arrived (a slow trickle is closed).
 */
export class TcpConnections {
  readonly #limits: TcpLimits
  readonly #all = new Map<TcpSocket, Tracked>()
  readonly #byClient = new Map<string, Set<TcpSocket>>()

  constructor(limits: TcpLimits) {
    this.#limits = limits
  }

  /** Connections open now. */
  get size(): number {
    return this.#all.size
  }

  /** Every connection open now (for close). */
  sockets(): IterableIterator<TcpSocket> {
    return this.#all.keys()
  }

  /** Takes a new connection of `client`, closing the longest idle one first when a cap is reached. */
  add(conn: TcpSocket, client: string): void {
    const mine = this.#byClient.get(client) ?? new Set<TcpSocket>()
    if (mine.size >= this.#limits.maxTcpPerClient) this.#longestIdle(mine)?.destroy()
    if (this.#all.size >= this.#limits.maxTcpConnections) this.#longestIdle(this.#all.keys())?.destroy()
    const t: Tracked = { client, lastMessage: performance.now(), idleTimer: undefined, frameTimer: undefined }
    this.#all.set(conn, t)
    mine.add(conn)
    this.#byClient.set(client, mine)
    conn.once('close', () => this.#remove(conn))
    this.#armIdle(conn, t)
  }

  /**
   * After bytes were read: `messages` complete ones among them, `pending` bytes of the next one
   * held. A complete message restarts the idle timeout; a started one gets its deadline.
   */
  read(conn: TcpSocket, messages: number, pending: number): void {
    const t = this.#all.get(conn)
    if (!t) return
    if (messages > 0) {
      t.lastMessage = performance.now()
      this.#armIdle(conn, t)
      clearTimeout(t.frameTimer)
      t.frameTimer = undefined
    }
    if (pending === 0) {
      clearTimeout(t.frameTimer)
      t.frameTimer = undefined
    } else if (t.frameTimer === undefined) {
      t.frameTimer = setTimeout(() => conn.destroy(), this.#limits.tcpFrameMs)
    }
  }

  #armIdle(conn: TcpSocket, t: Tracked): void {
    clearTimeout(t.idleTimer)
    t.idleTimer = setTimeout(() => conn.destroy(), this.#limits.tcpIdleMs)
  }

  #longestIdle(conns: Iterable<TcpSocket>): TcpSocket | undefined {
    let oldest: TcpSocket | undefined
    let at = Number.POSITIVE_INFINITY
    for (const c of conns) {
      const t = this.#all.get(c)
      if (t && t.lastMessage < at) {
        at = t.lastMessage
        oldest = c
      }
    }
    if (oldest) this.#remove(oldest)
    return oldest
  }

  #remove(conn: TcpSocket): void {
    const t = this.#all.get(conn)
    if (!t) return
    clearTimeout(t.idleTimer)
    clearTimeout(t.frameTimer)
    this.#all.delete(conn)
    const mine = this.#byClient.get(t.client)
    mine?.delete(conn)
    if (mine?.size === 0) this.#byClient.delete(t.client)
  }
}

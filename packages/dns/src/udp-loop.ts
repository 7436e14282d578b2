import { createRequire } from 'node:module'

/** What the native addon (`native/udp-loop.c`) exports. */
interface UdpLoopAddon {
  open(address: string, family: 4 | 6, port: number, onMiss: MissListener): [unknown, number]
  send(loop: unknown, message: Buffer, address: string, port: number): boolean
  store(loop: unknown, generation: number, key: Buffer, answer: Buffer): void
  clear(loop: unknown, scoped: boolean): [number, Buffer[]]
  stats(loop: unknown): [number, number, number]
  close(loop: unknown): void
}

/**
 * A query the native loop did not answer: its bytes, the client, and (when it may be stored) the
 * key to store its answer under, valid for the table generation given.
 */
export type MissListener = (
  message: Buffer,
  address: string,
  port: number,
  key: Buffer | null,
  generation: number,
) => void

/**
 * The UDP socket of one listen address, served by a native thread: `recvmmsg`, answers stored by
 * {@link store} sent back with the query's id (`sendmmsg`), everything else handed to `onMiss` on
 * the caller's event loop. The answers themselves are always dns-packet's (made in JavaScript).
 */
export interface UdpLoop {
  /** The bound port (the one picked, when 0 was asked). */
  readonly port: number
  /** Sends an answer from the socket (its source is the listen address). False when it failed. */
  send(message: Buffer, address: string, port: number): boolean
  /** Stores `answer` for the next queries with `key`, unless the table was cleared since `generation`. */
  store(generation: number, key: Buffer, answer: Buffer): void
  /**
   * Forgets every stored answer; keys include the client's address from now on when `scoped`.
   * Returns the new generation and the keys asked for most before (at most 64), to store anew.
   */
  clear(scoped: boolean): { generation: number; keys: Buffer[] }
  /** Queries answered natively, handed over, dropped (the hand-over queue was full). */
  stats(): { answered: number; handedOver: number; dropped: number }
  /** Stops the thread and closes the socket (idempotent). */
  close(): void
}

let addon: UdpLoopAddon | null | undefined

function load(): UdpLoopAddon | null {
  if (addon !== undefined) return addon
  addon = null
  // `CNM_DNS_UDP=node` serves UDP on Node's dgram instead (the benchmark compares both).
  if (process.env.CNM_DNS_UDP === 'node' || process.platform !== 'linux') return addon
  try {
    addon = createRequire(import.meta.url)('../build/Release/cnm_dns_udp.node') as UdpLoopAddon
  } catch {
    // Not built: Node's dgram serves UDP.
  }
  return addon
}

/** Whether UDP is served by the native loop (the addon is built and not turned off). */
export function nativeUdpAvailable(): boolean {
  return load() !== null
}

/**
 * Binds `address:port` (UDP) and starts its native loop; undefined when the addon is not there.
 * Throws the bind's errno as `code` (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`).
 */
export function openUdpLoop(address: string, family: 4 | 6, port: number, onMiss: MissListener): UdpLoop | undefined {
  const a = load()
  if (a === null) return undefined
  const [loop, bound] = a.open(address, family, port, onMiss)
  let closed = false
  return {
    port: bound,
    send: (message, to, toPort) => !closed && a.send(loop, message, to, toPort),
    store: (generation, key, answer) => {
      if (!closed) a.store(loop, generation, key, answer)
    },
    clear: (scoped) => {
      if (closed) return { generation: 0, keys: [] }
      const [generation, keys] = a.clear(loop, scoped)
      return { generation, keys }
    },
    stats: () => {
      const [answered, handedOver, dropped] = a.stats(loop)
      return { answered, handedOver, dropped }
    },
    close: () => {
      if (closed) return
      closed = true
      a.close(loop)
    },
  }
}

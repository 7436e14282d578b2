import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { invalidConfig } from './errors.js'

/** What the native addon (`native/udp-loop.c`) exports. */
interface UdpLoopAddon {
  open(
    address: string,
    family: 4 | 6,
    port: number,
    onMiss: MissListener,
    priority: number,
    clients: Buffer,
  ): [unknown, number]
  send(loop: unknown, message: Buffer, address: string, port: number): boolean
  store(loop: unknown, generation: number, key: Buffer, answer: Buffer): void
  clear(loop: unknown, scoped: boolean): [number, Buffer[]]
  stats(loop: unknown): [number, number, number, number, number, number, number]
  close(loop: unknown): void
  hold(): void
  release(): void
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
  /**
   * Queries answered natively, handed over, dropped (the hand-over queue was full), dropped for
   * their source (outside the client rules), dropped over their client's budget of misses; batches
   * that waited for a hold ({@link holdUdpLoops}), and holds that outlived their bound.
   */
  stats(): {
    answered: number
    handedOver: number
    dropped: number
    foreign: number
    limited: number
    held: number
    holdsExpired: number
  }
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
    // node-gyp-build: `build/Release/cnm_dns_udp.node` when the install script built it, else the
    // tarball's prebuilt `prebuilds/<platform>-<arch>/node.napi.<libc>.node`.
    const require = createRequire(import.meta.url)
    const gypBuild = require('node-gyp-build') as (dir: string) => unknown
    addon = gypBuild(fileURLToPath(new URL('..', import.meta.url))) as UdpLoopAddon
  } catch {
    // Neither built nor prebuilt for this machine: Node's dgram serves UDP.
  }
  return addon
}

/** The loop thread's CPU priority: SCHED_IDLE. */
export const LOOP_PRIORITY_IDLE = -1
/**
 * The default: nice 0, the event loop's own priority. A lowered loop starves on a busy host (at
 * nice 19 and a load of 30 on 2 cores a query waited over 100 ms for the loop's thread), and the
 * containers' DNS is what a busy host must still answer.
 */
export const DEFAULT_LOOP_PRIORITY = 0

/**
 * The CPU priority the loop threads run at: `CNM_DNS_LOOP_PRIORITY` (`idle` for SCHED_IDLE, or a
 * nice value 0–19), else {@link DEFAULT_LOOP_PRIORITY}. A lower priority than the daemon's main
 * thread keeps a saturating query load from delaying the API's work (connect, disconnect): the
 * loop runs on whatever CPU the rest leaves (and at full speed on an otherwise idle core), at the
 * cost of its answers waiting whenever anything else wants the CPU.
 */
export function loopPriority(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.CNM_DNS_LOOP_PRIORITY
  if (v === undefined || v === '') return DEFAULT_LOOP_PRIORITY
  if (v === 'idle') return LOOP_PRIORITY_IDLE
  if (/^(?:1?\d)$/u.test(v)) return Number(v)
  throw invalidConfig(`CNM_DNS_LOOP_PRIORITY ${JSON.stringify(v)}: expected "idle" or a nice value 0-19`)
}

/** The longest one hold keeps the loops waiting, from when it began (`HOLD_MAX_MS` in the addon). */
export const HOLD_MAX_MS = 100

/**
 * Holds every native UDP loop of the process until the returned function is called (idempotent;
 * holds nest): each loop finishes the batch it is on and waits, its queries queuing in the
 * socket's receive buffer, answered when the last hold ends. The daemon holds them while it changes
 * the kernel (a connect, a disconnect), so that on a host whose cores a query flood keeps busy the
 * API still gets a core. A hold never keeps a loop waiting longer than {@link HOLD_MAX_MS} after it
 * began (then the loops go on, counted as `holdsExpired`), so one never released cannot stop DNS.
 * `CNM_DNS_HOLD=0` turns holds off (a no-op, as when the addon is not there).
 */
export function holdUdpLoops(env: NodeJS.ProcessEnv = process.env): () => void {
  const a = load()
  if (a === null || env.CNM_DNS_HOLD === '0') return () => {}
  a.hold()
  let released = false
  return () => {
    if (released) return
    released = true
    a.release()
  }
}

/** Whether UDP is served by the native loop (the addon is built and not turned off). */
export function nativeUdpAvailable(): boolean {
  return load() !== null
}

/**
 * Binds `address:port` (UDP) and starts its native loop; undefined when the addon is not there.
 * `clients`: who is answered (`ClientFilter.rules`; empty: anyone). Each client may hand at most
 * 500 misses a second (1000 at once) to `onMiss`, and all together 4000 (8000 at once); beyond,
 * while 512 or more wait for the event loop, they are dropped and counted (`limited`).
 * Throws the bind's errno as `code` (`EADDRINUSE`, `EADDRNOTAVAIL`, `EACCES`).
 */
export function openUdpLoop(
  address: string,
  family: 4 | 6,
  port: number,
  onMiss: MissListener,
  clients: Buffer = Buffer.alloc(0),
): UdpLoop | undefined {
  const a = load()
  if (a === null) return undefined
  const [loop, bound] = a.open(address, family, port, onMiss, loopPriority(), clients)
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
      const [answered, handedOver, dropped, foreign, limited, held, holdsExpired] = a.stats(loop)
      return { answered, handedOver, dropped, foreign, limited, held, holdsExpired }
    },
    close: () => {
      if (closed) return
      closed = true
      a.close(loop)
    },
  }
}

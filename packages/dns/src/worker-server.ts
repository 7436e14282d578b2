import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { DnsError, ERR_DNS_SERVER_CLOSED } from './errors.js'
import type { NameTable } from './name-table.js'
import type { ResolvConf } from './resolv-conf.js'
import { type DnsServerOptions, parseServerOptions } from './server-config.js'
import type { Upstream } from './upstreams.js'
import type { FromWorker, ToWorker, WorkerStats } from './worker-protocol.js'

/** A DNS server running on a thread of its own (see {@link createDnsServerThread}). */
export interface DnsServerThread {
  /** The names it answers: change them here; each change is posted to the server's thread in order. */
  readonly names: NameTable
  readonly addresses: readonly string[]
  readonly port: number
  readonly domain: string | undefined
  /** Resolves once the server's thread has applied every change made to `names` before this call. */
  synced(): Promise<void>
  /**
   * Where the server's thread forwards queries that are not the network's now (the host's
   * resolv.conf servers, re-read when it changes, or the fixed list it was given).
   */
  upstreams(): Promise<readonly Upstream[]>
  /**
   * The resolver configuration of a sandbox on this network, as the server's thread sees it now:
   * the server's addresses as name servers, the network's domain then the host's search list, the
   * host's options (render it with `renderResolvConf`).
   */
  sandboxResolvConf(): Promise<ResolvConf>
  /** Counters of the server's thread so far (see {@link WorkerStats}), read in one round trip. */
  stats(): Promise<WorkerStats>
  /** Stops the server and its thread. Idempotent. */
  close(): Promise<void>
}

/** The worker script next to this module, or (running from source, as tests do) in dist. */
function defaultWorkerUrl(): URL {
  const own = new URL('./worker-entry.js', import.meta.url)
  if (existsSync(fileURLToPath(own))) return own
  return new URL('../dist/worker-entry.js', import.meta.url)
}

/**
 * The same server as `createDnsServer`, on a worker thread: its sockets, its answers and its
 * forwarding never run on the caller's event loop, so a flood of queries does not delay the
 * caller's other work (the daemon's API), and on a machine with a free core they run in parallel.
 * `names` stays in the caller's thread; a change is applied by the server's thread shortly after
 * (in order); `await synced()` when it must be visible before going on (before `connect`
 * returns). Options are validated in the caller's thread first; a bind failure rejects with the
 * same `DnsError`. If the thread dies, every call rejects with `ERR_DNS_SERVER_CLOSED`.
 */
export async function createDnsServerThread(options: DnsServerOptions): Promise<DnsServerThread> {
  const config = parseServerOptions(options)
  const names = config.names
  const { names: _omit, ...plain } = options
  const changes = names.entries().map((entry) => ({ type: 'set' as const, entry }))
  const worker = new Worker(defaultWorkerUrl(), { workerData: { options: plain, changes } })
  let closedError: DnsError | undefined
  const waiting = new Map<number, (m: FromWorker) => void>()
  let seq = 0
  const fail = (why: string): void => {
    closedError ??= new DnsError(
      ERR_DNS_SERVER_CLOSED,
      `the DNS server on ${config.addresses.map((a) => a.address).join(', ')} ${why}`,
    )
    for (const w of waiting.values()) w({ type: 'closed' })
    waiting.clear()
  }
  const post = (m: ToWorker): void => {
    if (!closedError) worker.postMessage(m)
  }
  // From now on every change is posted (the thread reads its queue once its server is up).
  const stopListening = names.onChange((change) => post({ type: 'change', change }))
  const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
    worker.once('message', (m: FromWorker) => {
      if (m.type === 'ready') resolve(m)
      else if (m.type === 'error') reject(new DnsError(m.code, m.message))
    })
    worker.once('error', (err) =>
      reject(new DnsError(ERR_DNS_SERVER_CLOSED, `DNS server thread failed: ${err.message}`, { cause: err })),
    )
    worker.once('exit', (code) => reject(new DnsError(ERR_DNS_SERVER_CLOSED, `DNS server thread exited (${code})`)))
  }).catch(async (err) => {
    stopListening()
    await worker.terminate()
    throw err
  })
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'synced' || m.type === 'info') {
      waiting.get(m.seq)?.(m)
      waiting.delete(m.seq)
    }
  })
  worker.on('error', () => fail('stopped: its thread failed'))
  worker.on('exit', () => fail('is closed'))
  const ask = <T extends FromWorker['type']>(type: 'sync' | 'query'): Promise<Extract<FromWorker, { type: T }>> => {
    if (closedError) return Promise.reject(closedError)
    const n = ++seq
    return new Promise((resolve, reject) => {
      waiting.set(n, (m) =>
        m.type === 'closed' ? reject(closedError) : resolve(m as Extract<FromWorker, { type: T }>),
      )
      post({ type, seq: n })
    })
  }
  let closing: Promise<void> | undefined
  return {
    names,
    addresses: Object.freeze(config.addresses.map((a) => a.address)),
    port: ready.port,
    domain: config.domain,
    synced: async () => void (await ask<'synced'>('sync')),
    upstreams: async () => (await ask<'info'>('query')).upstreams,
    sandboxResolvConf: async () => (await ask<'info'>('query')).resolvConf,
    stats: async () => (await ask<'info'>('query')).stats,
    close(): Promise<void> {
      closing ??= (async () => {
        stopListening()
        if (!closedError) {
          const done = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
          post({ type: 'close' })
          await done
        }
      })()
      return closing
    },
  }
}

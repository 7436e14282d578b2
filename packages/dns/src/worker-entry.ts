// The DNS server's own thread (see worker-server.ts): it owns the sockets and a copy of the name
// table, and applies the changes the owner's thread posts, in order.
import { parentPort, workerData } from 'node:worker_threads'
import { type NameChange, NameTable } from './name-table.js'
import { createDnsServer, type DnsServer } from './server.js'
import type { DnsServerOptions } from './server-config.js'
import type { ToWorker } from './worker-protocol.js'

const port = parentPort
if (!port) throw new Error('@cnm/dns worker-entry runs only as a worker thread')
const data = workerData as { options: Omit<DnsServerOptions, 'names'>; changes: NameChange[] }
const names = new NameTable()
for (const c of data.changes) names.apply(c)
let server: DnsServer | undefined
try {
  server = await createDnsServer({ ...data.options, names })
  port.postMessage({ type: 'ready', port: server.port })
} catch (err) {
  const e = err as { code?: string; message?: string }
  port.postMessage({ type: 'error', code: e.code ?? 'EINVAL', message: e.message ?? String(err) })
  port.close()
}
const s = server
if (s) {
  port.on('message', async (m: ToWorker) => {
    if (m.type === 'change') names.apply(m.change)
    else if (m.type === 'sync') port.postMessage({ type: 'synced', seq: m.seq })
    else if (m.type === 'query') {
      port.postMessage({
        type: 'info',
        seq: m.seq,
        stats: s.stats(),
        upstreams: s.upstreams(),
        resolvConf: s.sandboxResolvConf(),
      })
    } else if (m.type === 'close') {
      await s.close()
      port.postMessage({ type: 'closed' })
      port.close()
    }
  })
}

// The cnm side of the benchmark (a child process, like aardvark-dns): the DNS server of one
// network with the benchmark's names, forwarding to the resolv.conf given; on the process's own
// event loop (`process`) or on a thread of its own (`thread`, createDnsServerThread).
//   node cnm-server.mjs ADDRESS RESOLV_CONF NAMES_JSON process|thread
// On stdin, `work N` runs N mini attach/detach cycles through @cnm/netlink in this same process
// (a veth pair, one end on the bridge and up, an address on the other, then deleted: the kernel
// work of a connect/disconnect) and prints their median in ms: "the daemon's other work".
import { createInterface } from 'node:readline'
import { openHandle } from '@cnm/netlink'
import { createDnsServer, createDnsServerThread } from '../dist/index.js'

const [address, resolvConf, namesJson, mode = 'process'] = process.argv.slice(2)
const create = mode === 'thread' ? createDnsServerThread : createDnsServer
const server = await create({ addresses: [address], port: 53, resolvConf, domain: 'dns.cnm' })
for (const e of JSON.parse(namesJson)) server.names.set(e)
await server.synced?.()
const h = await openHandle()

async function cycle() {
  const t0 = process.hrtime.bigint()
  await h.createVeth('cnmwork0', 'cnmwork1')
  await h.setMaster('cnmwork0', 'cnmdnsbr')
  await h.setLinkUp('cnmwork0')
  await h.addAddress('cnmwork1', '10.77.3.1/32')
  await h.setLinkUp('cnmwork1')
  await h.deleteLink('cnmwork0')
  return Number(process.hrtime.bigint() - t0) / 1e6
}

createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, n] = line.trim().split(' ')
  if (cmd !== 'work') return
  const xs = []
  for (let i = 0; i < Number(n); i++) xs.push(await cycle())
  xs.sort((a, b) => a - b)
  process.stdout.write(`${JSON.stringify({ median: xs[Math.floor(xs.length / 2)], n: xs.length })}\n`)
})
process.on('SIGTERM', () => {
  h.close()
  server.close().then(() => process.exit(0))
})
process.stdout.write('ready\n')

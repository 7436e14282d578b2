#!/usr/bin/env node
// A remote network and IPAM driver for dockerd that does nothing, for `docker-vs-bridge.mjs`: the
// floor of Docker's plugin protocol, what any plugin pays before it does any work of its own.
// Its endpoints are veth pairs made before the measurement (dockerd moves the container end in at
// a connect and back, under the same name, at a disconnect: it is reused), its addresses come from
// a counter, and it answers every other request with an empty object, over `node:http` (no
// framework, no validation, no store). Not a driver anyone could use: no bridge, no isolation.
//
//   node null-plugin.mjs <socket> <veth pairs>      (as root, in a throwaway network namespace)
//
// Prints `null plugin on <socket>` when it answers; SIGTERM removes its veths and exits.
import { spawnSync } from 'node:child_process'
import { unlinkSync } from 'node:fs'
import { createServer } from 'node:http'

const [socket, pairs = '8'] = process.argv.slice(2)
const ip = (...args) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}
const free = [] // container ends waiting in this namespace
for (let i = 0; i < Number(pairs); i++) {
  ip('link', 'add', `nullh${i}`, 'type', 'veth', 'peer', 'name', `nullc${i}`)
  ip('link', 'set', `nullh${i}`, 'up')
  free.push(`nullc${i}`)
}
const gateways = new Map() // network id → gateway address (no prefix)
const endpoints = new Map() // endpoint id → its container end
const next = new Map() // pool → last host number handed out

/** The next address of a /24 pool (from .2, around again after .250): never two at once here. */
function address(pool) {
  const n = ((next.get(pool) ?? 1) % 249) + 1
  next.set(pool, n)
  const [net, len] = pool.split('/')
  return `${net.split('.').slice(0, 3).join('.')}.${n + 1}/${len}`
}

const answers = {
  '/Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
  '/NetworkDriver.GetCapabilities': () => ({ Scope: 'local' }),
  '/NetworkDriver.CreateNetwork': (b) => {
    gateways.set(b.NetworkID, b.IPv4Data[0].Gateway.split('/')[0])
    return {}
  },
  '/NetworkDriver.DeleteNetwork': (b) => {
    gateways.delete(b.NetworkID)
    return {}
  },
  '/NetworkDriver.CreateEndpoint': (b) => {
    const end = free.shift()
    if (end === undefined) throw new Error('no veth left')
    endpoints.set(b.EndpointID, end)
    return {}
  },
  '/NetworkDriver.EndpointOperInfo': () => ({ Value: {} }),
  '/NetworkDriver.DeleteEndpoint': (b) => {
    free.push(endpoints.get(b.EndpointID))
    endpoints.delete(b.EndpointID)
    return {}
  },
  '/NetworkDriver.Join': (b) => ({
    InterfaceName: { SrcName: endpoints.get(b.EndpointID), DstPrefix: 'eth' },
    Gateway: gateways.get(b.NetworkID),
  }),
  '/NetworkDriver.Leave': () => ({}),
  '/NetworkDriver.ProgramExternalConnectivity': () => ({}),
  '/NetworkDriver.RevokeExternalConnectivity': () => ({}),
  '/NetworkDriver.DiscoverNew': () => ({}),
  '/NetworkDriver.DiscoverDelete': () => ({}),
  '/IpamDriver.GetCapabilities': () => ({}),
  '/IpamDriver.GetDefaultAddressSpaces': () => ({ LocalDefaultAddressSpace: 'l', GlobalDefaultAddressSpace: 'g' }),
  '/IpamDriver.RequestPool': (b) => ({ PoolID: b.Pool, Pool: b.Pool, Data: {} }),
  '/IpamDriver.ReleasePool': () => ({}),
  '/IpamDriver.RequestAddress': (b) => ({
    Address: b.Address ? `${b.Address}/${b.PoolID.split('/')[1]}` : address(b.PoolID),
    Data: {},
  }),
  '/IpamDriver.ReleaseAddress': () => ({}),
}

try {
  unlinkSync(socket)
} catch {}
createServer((req, res) => {
  let text = ''
  req.on('data', (d) => {
    text += d
  })
  req.on('end', () => {
    let status = 200
    let answer
    try {
      const body = text.trim() ? JSON.parse(text) : {}
      const fn = answers[req.url]
      if (!fn) status = 404
      answer = fn ? fn(body) : { Err: `null plugin: no ${req.url}` }
    } catch (err) {
      answer = { Err: `null plugin: ${err.message}` }
    }
    const out = JSON.stringify(answer)
    res.writeHead(status, {
      'Content-Type': 'application/vnd.docker.plugins.v1.2+json',
      'Content-Length': Buffer.byteLength(out),
    })
    res.end(out)
  })
}).listen(socket, () => console.log(`null plugin on ${socket}`))

process.on('SIGTERM', () => {
  for (let i = 0; i < Number(pairs); i++) spawnSync('ip', ['link', 'del', `nullh${i}`])
  process.exit(0)
})

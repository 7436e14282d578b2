#!/usr/bin/env node
// Benchmark (not a test) for the bridge driver (issue 7): attach and detach N = 10 and N = 100
// containers, each with one published port, through the driver — and in the same run through the
// CNI plugins (bridge + host-local + portmap) and netavark from Debian's packages (installed by
// the script when missing). Also measures the kernel's own veth delete, the floor for detach.
// Runs as root inside a fresh network namespace of its own, and each peer (@cnm/bench-peers) in
// one of its own again: the machine's network is untouched, and a peer is cleaned up by deleting
// its namespace.
//
//   pnpm exec turbo run build --filter=@cnm/bridge... && node packages/bridge/bench/bench.mjs [--json]
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { createCniPeer, createNetavarkPeer, ensurePeersInstalled, measurePeer, median, timed } from '@cnm/bench-peers'
import { CLONE_NEWNET, createNetns, deleteNetns, ensureThreadPool, openHandle, unshare } from '@cnm/netlink'
import { openSandbox } from '@cnm/sandbox'
import { createBridgeDriver } from '../dist/index.js'

const SIZES = (process.env.BENCH_SIZES ?? '10,100').split(',').map(Number)
const NS_DIR = `/run/cnm-bench-${process.pid}`
const json = process.argv.includes('--json')
const log = (...a) => {
  if (!json) console.log(...a)
}

function cnmPeer(driver, nid) {
  const eids = new Map()
  return {
    name: 'cnm',
    async attach(i, nsPath) {
      const eid = randomBytes(32).toString('hex')
      eids.set(i, eid)
      const info = await driver.createEndpoint(nid, eid, nsPath, {
        portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 22000 + i }],
      })
      const sb = await openSandbox(nsPath)
      for (const iface of info.interfaces) await sb.addInterface(iface)
      await sb.setGateway(info.gateway)
      sb.close()
    },
    async detach(i) {
      await driver.deleteEndpoint(nid, eids.get(i))
    },
    async cleanup() {},
  }
}

async function runPeer(peer, n) {
  const r = await measurePeer(peer, n, { nsDir: NS_DIR, warmUp: 10 })
  return { attach: r.attach, attachFirst: r.first, attachLast: r.last, detach: r.detach }
}

/**
 * The kernel's own cost to delete such a veth, made and configured the same way with netlink alone:
 * its peer in a container's namespace with an address, up, and a default route; its host end a port
 * of a bridge, up. Only the netlink delete is timed.
 */
async function vethDeleteFloor(h, n) {
  const ns = `${NS_DIR}/floor`
  await createNetns(ns)
  const inside = await openHandle({ netns: ns })
  await h.createBridge('cnmfloorbr')
  await h.addAddress('cnmfloorbr', '10.201.0.1/24')
  await h.setLinkUp('cnmfloorbr')
  const xs = []
  for (let i = 0; i < n; i++) {
    await h.createVeth('cnmfloor0', 'eth0', { peerNetns: ns })
    await h.setMaster('cnmfloor0', 'cnmfloorbr')
    await h.setLinkUp('cnmfloor0')
    await inside.addAddress('eth0', '10.201.0.2/24')
    await inside.setLinkUp('eth0')
    await inside.addRoute({ destination: 'default', gateway: '10.201.0.1' })
    xs.push(await timed(() => h.deleteLink('cnmfloor0')))
  }
  inside.close()
  await h.deleteLink('cnmfloorbr')
  deleteNetns(ns)
  return median(xs)
}

const available = await ensurePeersInstalled({ log })
await ensureThreadPool()
unshare(CLONE_NEWNET)
const h = await openHandle()
await h.setLinkUp('lo')

const driver = createBridgeDriver()
await driver.config({ firewallBackend: 'nftables' })
const nid = randomBytes(32).toString('hex')
await driver.createNetwork(nid, { addressIPv4: '10.200.0.1/16' })

const results = {}
for (const n of SIZES) {
  // Each peer runs in a network namespace of its own: its cleanup deletes that namespace.
  const peers = [cnmPeer(driver, nid)]
  if (available.cni.available) peers.push(await createCniPeer({ hostPortBase: 20000, netnsDir: NS_DIR }))
  if (available.netavark.available) peers.push(await createNetavarkPeer({ hostPortBase: 21000, netnsDir: NS_DIR }))
  results[n] = { floorVethDelete: await vethDeleteFloor(h, Math.min(n, 50)) }
  for (const peer of peers) {
    results[n][peer.kind ?? peer.name] = await runPeer(peer, n)
    await peer.cleanup()
  }
}
await driver.deleteNetwork(nid)
await driver.close()
h.close()
rmSync(NS_DIR, { recursive: true, force: true })

if (json) console.log(JSON.stringify({ available, results }, null, 2))
for (const n of SIZES) {
  const r = results[n]
  log(`\nN = ${n} containers, one published port each (medians, ms)`)
  log('peer        attach   first10%  last10%  last/first  detach')
  for (const name of ['cnm', 'cni', 'netavark']) {
    const p = r[name]
    if (!p) continue
    log(
      `${name.padEnd(10)} ${p.attach.toFixed(2).padStart(7)} ${p.attachFirst.toFixed(2).padStart(9)} ${p.attachLast
        .toFixed(2)
        .padStart(8)} ${(p.attachLast / p.attachFirst).toFixed(2).padStart(10)} ${p.detach.toFixed(2).padStart(8)}`,
    )
  }
  const peersAttach = ['cni', 'netavark'].map((k) => r[k]?.attach).filter((x) => x !== undefined)
  const fastest = Math.min(...peersAttach)
  log(`kernel veth delete (floor for detach): ${r.floorVethDelete.toFixed(2)} ms`)
  log(`attach: cnm is ${(fastest / r.cnm.attach).toFixed(1)}x faster than the fastest peer (target >= 10x)`)
  log(`growth: cnm last/first 10% = ${(r.cnm.attachLast / r.cnm.attachFirst).toFixed(2)} (target <= 1.2)`)
  log(`detach: cnm / kernel veth delete = ${(r.cnm.detach / r.floorVethDelete).toFixed(2)} (target <= 1.3)`)
}

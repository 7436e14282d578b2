#!/usr/bin/env node
// End-to-end benchmark (not a test) for issue 9: attach and detach N = 10 and N = 100 containers,
// each with one published port, through the controller with its SQLite store (a file, WAL) —
// beside the same work through the CNI plugins (bridge + host-local + portmap) and netavark from
// Debian's packages, in the same run. Also times the `cnm` binary itself for a few containers
// (a process per command, as a shell user runs it). Runs as root in a fresh network namespace,
// and each peer (@cnm/bench-peers) in one of its own again.
//
//   pnpm exec turbo run build && node packages/cli/bench/bench.mjs
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCniPeer, createNetavarkPeer, ensurePeersInstalled, measurePeer, median } from '@cnm/bench-peers'
import { createController } from '@cnm/controller'
import { CLONE_NEWNET, ensureThreadPool, openHandle, unshare } from '@cnm/netlink'
import { openSandbox } from '@cnm/sandbox'

const SIZES = (process.env.BENCH_SIZES ?? '10,100').split(',').map(Number)
const CLI_RUNS = Number(process.env.BENCH_CLI_RUNS ?? 10)
const NS_DIR = `/run/cnm-e2e-${process.pid}`
const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

function controllerPeer(network) {
  const eps = new Map()
  return {
    name: 'cnm (controller + store)',
    async attach(i, nsPath) {
      const { endpoint } = await network.createEndpoint(`c${i}`, nsPath, {
        portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 23000 + i }],
      })
      await endpoint.join(await openSandbox(nsPath))
      eps.set(i, endpoint)
    },
    async detach(i) {
      await eps.get(i).delete()
    },
    async cleanup() {},
  }
}

function runPeer(peer, n) {
  return measurePeer(peer, n, { nsDir: NS_DIR, warmUp: 3 })
}

/** The `cnm` binary: one `endpoint create --sandbox … -p` and one `endpoint rm` per container. */
function cliRuns(store, sandboxDir, n) {
  const cnm = (...args) => {
    const t = process.hrtime.bigint()
    const r = spawnSync(process.execPath, [bin, '--store', store, '--sandbox-dir', sandboxDir, ...args], {
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(`cnm ${args.join(' ')}: ${r.stderr}`)
    return Number(process.hrtime.bigint() - t) / 1e6
  }
  const attach = []
  const detach = []
  for (let i = 0; i < n; i++) {
    cnm('sandbox', 'create', `cli${i}`)
    attach.push(cnm('connect', 'e2e', `cli${i}`, '--endpoint', `cli${i}`, '-p', `${24000 + i}:80`))
  }
  for (let i = 0; i < n; i++) {
    detach.push(cnm('disconnect', 'e2e', `cli${i}`))
    cnm('sandbox', 'rm', `cli${i}`)
  }
  return { attach: median(attach), detach: median(detach) }
}

const available = await ensurePeersInstalled()
await ensureThreadPool()
unshare(CLONE_NEWNET)
const h = await openHandle()
await h.setLinkUp('lo')
const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-e2e-'))
const store = path.join(tmp, 'cnm.db')
const controller = await createController({ storePath: store, sandboxDir: `${NS_DIR}/sandboxes` })
const network = await controller.newNetwork(await controller.newNetworkDriver('bridge'), 'e2e', {
  addressIPv4: '10.210.0.1/16',
})
const results = {}
for (const n of SIZES) {
  results[n] = { cnm: await runPeer(controllerPeer(network), n) }
  // Each peer runs in a network namespace of its own: its cleanup deletes that namespace.
  const peers = []
  if (available.cni.available) peers.push(await createCniPeer({ hostPortBase: 20000, netnsDir: NS_DIR }))
  if (available.netavark.available) peers.push(await createNetavarkPeer({ hostPortBase: 21000, netnsDir: NS_DIR }))
  for (const peer of peers) {
    results[n][peer.kind] = await runPeer(peer, n)
    await peer.cleanup()
  }
}
await controller.close()
const cli = cliRuns(store, `${NS_DIR}/sandboxes`, CLI_RUNS)
const again = await createController({ storePath: store, sandboxDir: `${NS_DIR}/sandboxes` })
await again.networkByName('e2e')?.delete()
await again.close()
h.close()
rmSync(tmp, { recursive: true, force: true })
rmSync(NS_DIR, { recursive: true, force: true })

for (const n of SIZES) {
  const r = results[n]
  console.log(`\nN = ${n}, one published port each (medians, ms)`)
  console.log('peer        attach  first10%  last10%  detach')
  for (const k of ['cnm', 'cni', 'netavark']) {
    const p = r[k]
    if (p)
      console.log(
        `${k.padEnd(10)} ${[p.attach, p.first, p.last, p.detach].map((x) => x.toFixed(2).padStart(8)).join(' ')}`,
      )
  }
  const fastest = Math.min(...['cni', 'netavark'].map((k) => r[k]?.attach ?? Number.POSITIVE_INFINITY))
  const fastestDetach = Math.min(...['cni', 'netavark'].map((k) => r[k]?.detach ?? Number.POSITIVE_INFINITY))
  console.log(
    `attach: cnm ${(fastest / r.cnm.attach).toFixed(1)}x faster than the fastest peer; detach ${(fastestDetach / r.cnm.detach).toFixed(1)}x`,
  )
}
console.log(
  `\nthe cnm binary (a process per command, store on disk, ${CLI_RUNS} containers): connect ${cli.attach.toFixed(1)} ms, disconnect ${cli.detach.toFixed(1)} ms`,
)

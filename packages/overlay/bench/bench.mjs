#!/usr/bin/env node
// Benchmark (not a test) for the overlay driver (issue 18), two measures in one run:
//
// 1. Attach: an overlay endpoint (address and record claimed in a 3-member etcd cluster with one
//    compare-and-swap transaction, veth born in the sandbox, port of the network's bridge) against
//    a bridge-driver endpoint on the same machine, in the same run; both configured in their
//    sandbox the same way (address, MTU, gateway). Steady state: the network already has an
//    endpoint on this host (its devices exist). Target: overlay ≤ 3× bridge.
// 2. Cross-host propagation: from `connect` on host 1 returning to the first ping reply seen by a
//    container on host 2 (a `ping -D -i 0.002` already running there, so its timestamps need no
//    process start). Host 2 learns the new endpoint through its etcd watch and programs the FDB
//    and neighbour entries. Target: median ≤ 100 ms.
//
// As root, under `unshare --net --mount` (a fresh network namespace plays host 1, a tmpfs on /run):
// etcd (started by `@cnm/bench-peers`) listens on that namespace's loopback only, host 2 is a
// namespace on an underlay bridge.
//
//   pnpm exec turbo run build --filter @cnm/overlay... --filter @cnm/bridge... && node packages/overlay/bench/bench.mjs
//   BENCH_IPV6=1 node packages/overlay/bench/bench.mjs     # dual-stack networks on both sides
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const RUNS = Number(process.env.BENCH_RUNS ?? 50)
/** `BENCH_IPV6=1`: dual-stack networks on both sides (an IPv6 subnet besides the IPv4 one). */
const IPV6 = process.env.BENCH_IPV6 === '1'
const SELF = fileURLToPath(import.meta.url)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const now = () => performance.timeOrigin + performance.now() // wall clock, ms, sub-ms precision
const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('')
const sh = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

/** The first ping reply's timestamp (ms, wall clock) from a `ping -D` already running. */
function firstReply(netns, ip) {
  const p = spawn('nsenter', [`--net=${netns}`, '--', 'ping', '-D', '-n', '-i', '0.002', '-W', '1', ip], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const reply = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply from ${ip} in 10 s`)), 10_000)
    createInterface({ input: p.stdout }).on('line', (line) => {
      const m = line.match(/^\[(\d+\.\d+)\] \d+ bytes from/u)
      if (!m) return
      clearTimeout(timer)
      resolve(Number(m[1]) * 1000)
    })
  })
  return { reply, stop: () => p.kill('SIGKILL') }
}

async function inside() {
  sh('mount', ['-t', 'tmpfs', 'cnm-bench', '/run'])
  sh('ip', ['link', 'set', 'lo', 'up'])
  const dir = mkdtempSync(path.join(tmpdir(), 'cnm-ovbench-'))
  const { startEtcdCluster } = await import('@cnm/bench-peers')
  const etcd = await startEtcdCluster({ dataDir: dir, clientPortBase: 24790, peerPortBase: 24890 })
  const { createNetns, deleteNetns } = await import('@cnm/netlink')
  const { newSandbox } = await import('@cnm/sandbox')
  const { connectCluster } = await import('@cnm/etcd-store')
  const { createBridgeDriver } = await import('@cnm/bridge')
  const { createOverlayDriver } = await import('../dist/index.js')
  // Host 1 is this namespace (192.0.2.1 on the underlay bridge); host 2 a namespace behind a veth.
  sh('ip', ['link', 'add', 'ul', 'type', 'bridge'])
  sh('ip', ['addr', 'add', '192.0.2.1/24', 'dev', 'ul'])
  sh('ip', ['link', 'set', 'ul', 'up'])
  sh('mkdir', ['-p', '/run/b'])
  const h2 = '/run/b/h2'
  await createNetns(h2)
  sh('ip', ['link', 'add', 'ulp', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h2])
  sh('ip', ['link', 'set', 'ulp', 'master', 'ul', 'up'])
  sh('nsenter', [`--net=${h2}`, '--', 'ip', 'addr', 'add', '192.0.2.2/24', 'dev', 'eth0'])
  sh('nsenter', [`--net=${h2}`, '--', 'ip', 'link', 'set', 'eth0', 'up'])
  const store = etcd.store
  const c1 = connectCluster({ store, advertise: '192.0.2.1', host: 'h1' })
  const c2 = connectCluster({ store, advertise: '192.0.2.2', host: 'h2' })
  const ov1 = createOverlayDriver({ owner: 'bench', cluster: c1 })
  const ov2 = createOverlayDriver({ owner: 'bench', cluster: c2, netns: h2, firewallBackend: 'none' })
  const br = createBridgeDriver({ owner: 'bench' })
  await ov1.config({})
  await ov2.config({})
  await br.config({ firewallBackend: 'nftables' })
  const onid = hex(64)
  const bnid = hex(64)
  const v6 = (subnet) => (IPV6 ? { enableIPv6: true, fixedCIDRv6: subnet } : {})
  await ov1.createNetwork(onid, { addressIPv4: '10.50.0.1/16', ...v6('fd00:50::/64') })
  await ov2.createNetwork(onid, { addressIPv4: '10.50.0.1/16', ...v6('fd00:50::/64') })
  await br.createNetwork(bnid, { addressIPv4: '10.60.0.1/16', ...v6('fd00:60::/64') })
  let n = 0
  const attachOnce = async (driver, nid, opts = {}) => {
    const sb = await newSandbox(`/run/b/s${n++}`)
    const eid = hex(64)
    const t = now()
    const info = await driver.createEndpoint(nid, eid, sb.key, opts)
    for (const i of info.interfaces) await sb.addInterface(i)
    if (info.gateway) await sb.setGateway(info.gateway)
    if (info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
    const ms = now() - t
    return { sb, eid, ms, end: now() }
  }
  const detach = async (driver, nid, x) => {
    const t = now()
    await driver.deleteEndpoint(nid, x.eid)
    const ms = now() - t
    await x.sb.destroy()
    return ms
  }
  try {
    // Steady state on both: one endpoint stays on each network (the overlay's devices exist).
    const keepO = await attachOnce(ov1, onid)
    const keepB = await attachOnce(br, bnid)
    const remote = await attachOnce(ov2, onid)
    // Host 2's container probes ARP often (5 ms) so an unanswered first request does not wait 1 s.
    sh('nsenter', [`--net=${remote.sb.key}`, '--', 'sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=5'])
    const res = { overlay: [], bridge: [], overlayDetach: [], bridgeDetach: [], propagation: [] }
    const ops = () => c1.kv.stats.reads + c1.kv.stats.txns + c1.kv.stats.writes
    const etcdOps = { attach: 0, detach: 0 }
    for (let i = 0; i < RUNS + 5; i++) {
      const before = ops()
      const o = await attachOnce(ov1, onid)
      const mid = ops()
      const od = await detach(ov1, onid, o)
      if (i >= 5) {
        etcdOps.attach += mid - before
        etcdOps.detach += ops() - mid
      }
      const b = await attachOnce(br, bnid)
      const bd = await detach(br, bnid, b)
      if (i >= 5) {
        res.overlay.push(o.ms)
        res.bridge.push(b.ms)
        res.overlayDetach.push(od)
        res.bridgeDetach.push(bd)
      }
    }
    for (let i = 0; i < RUNS; i++) {
      const ip = `10.50.${1 + (i >> 8)}.${i & 255}`
      const probe = firstReply(remote.sb.key, ip)
      try {
        const x = await attachOnce(ov1, onid, { ipv4Address: ip })
        const at = await probe.reply
        res.propagation.push(Math.max(0, at - x.end))
        await detach(ov1, onid, x)
      } finally {
        probe.stop()
      }
    }
    const f = (v) => v.toFixed(2)
    const oa = median(res.overlay)
    const ba = median(res.bridge)
    console.log(
      `overlay vs bridge${IPV6 ? ' (dual-stack)' : ''}, ${RUNS} runs each (medians; attach = createEndpoint + sandbox configuration)`,
    )
    console.log('| driver | attach | detach |')
    console.log('|---|---|---|')
    console.log(`| overlay (etcd, 3 members) | ${f(oa)} ms | ${f(median(res.overlayDetach))} ms |`)
    console.log(`| bridge | ${f(ba)} ms | ${f(median(res.bridgeDetach))} ms |`)
    console.log(`overlay/bridge attach: ${f(oa / ba)}× (target ≤ 3×)`)
    console.log(
      `etcd requests per overlay attach: ${f(etcdOps.attach / RUNS)}, per detach: ${f(etcdOps.detach / RUNS)}`,
    )
    console.log(
      `propagation connect(host 1) → first ping reply on host 2: median ${f(median(res.propagation))} ms, ` +
        `p90 ${f(pct(res.propagation, 0.9))} ms, max ${f(Math.max(...res.propagation))} ms (target median ≤ 100 ms)`,
    )
    for (const [d, nid, x] of [
      [ov2, onid, remote],
      [ov1, onid, keepO],
      [br, bnid, keepB],
    ])
      await detach(d, nid, x)
    await ov1.deleteNetwork(onid)
    await ov2.deleteNetwork(onid)
    await br.deleteNetwork(bnid)
  } finally {
    await ov1.close()
    await ov2.close()
    await br.close()
    await c1.close()
    await c2.close()
    await etcd.stop()
    deleteNetns(h2)
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.env.CNM_BENCH_INSIDE === '1') {
  await inside()
  process.exit(0)
} else {
  if (process.getuid() !== 0) throw new Error('run as root')
  const r = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', process.execPath, SELF], {
    stdio: 'inherit',
    env: { ...process.env, CNM_BENCH_INSIDE: '1' },
  })
  process.exit(r.status ?? 1)
}

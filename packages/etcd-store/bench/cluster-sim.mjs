#!/usr/bin/env node
// Benchmark (not a test) for issue 18: how the cluster design scales. A 3-member etcd cluster and
// HOSTS (default 50) lightweight host processes, each with its own etcd client (its own gRPC
// connection) doing what a cnm daemon does for the cluster, without devices: it registers under a
// lease it keeps alive, watches the endpoint records of the (one, shared) network, and holds
// ENDPOINTS/HOSTS endpoints (1,000 in all), each an address claimed with compare-and-swap under the
// host's lease plus a record. Then CHURN endpoints per second (default 50) are detached and attached
// again across the cluster for SECONDS (default 20) seconds. Recorded:
//   - propagation: from a record's commit on one host to its watch event on every other host
//     (median, p99, max over every delivery), and the watch events delivered per second;
//   - etcd's load: requests, writes and txns per second from its own /metrics, raft proposals, CPU
//     seconds and resident memory of the members;
//   - etcd operations per attach and per detach, counted on the client (the same calls the
//     controller makes: read the pool, CAS-claim, record; release);
//   - a dead host: one host stops without a word (SIGKILL); time until its 20 addresses are free.
// As root: everything runs under `unshare --net --mount` (etcd, started by `@cnm/bench-peers`, on
// that namespace's loopback only), data in a temporary directory.
//
//   pnpm --filter @cnm/etcd-store build && node packages/etcd-store/bench/cluster-sim.mjs
//   HOSTS=10 ENDPOINTS=200 SECONDS=5 node packages/etcd-store/bench/cluster-sim.mjs   # a quick one
import { fork, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const HOSTS = Number(process.env.HOSTS ?? 50)
const ENDPOINTS = Number(process.env.ENDPOINTS ?? 1000)
const CHURN = Number(process.env.CHURN ?? 50)
const SECONDS = Number(process.env.SECONDS ?? 20)
const TTL = Number(process.env.LEASE_TTL ?? 10)
const PER_PROCESS = Number(process.env.HOSTS_PER_PROCESS ?? 5)
const SELF = fileURLToPath(import.meta.url)
const CLIENT_PORT = 23790 // the first member's; the cluster's three members follow
const ENDPOINT_URLS = [0, 1, 2].map((i) => `http://127.0.0.1:${CLIENT_PORT + i}`)
const P = '/sim/'
const log = (msg) => console.error(`sim: ${msg}`)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const pct = (xs, p) =>
  xs.length === 0 ? Number.NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]

// ---------------------------------------------------------------- a host (child process)
async function hostMain(index) {
  const { createEtcdKV } = await import('../dist/index.js')
  const kv = createEtcdKV({ endpoints: ENDPOINT_URLS, leaseTtl: TTL, timeoutMs: 30_000 })
  const name = `h${index}`
  const latencies = []
  let events = 0
  const held = new Map() // eid → ip
  const ops = { attach: [], detach: [] }
  const count = () => ({ ...kv.stats })
  const diff = (a, b) => b.reads - a.reads + (b.txns - a.txns) + (b.writes - a.writes)
  // Start-up on a loaded machine is not what is measured: retry until etcd answers.
  for (let i = 0; ; i++) {
    try {
      await kv.txn([], [{ put: `${P}hosts/${name}`, value: name, lease: 'host' }])
      break
    } catch (err) {
      if (i > 10) throw err
    }
  }
  const { revision } = await kv.range(`${P}records/`)
  await kv.watch(
    `${P}records/`,
    (e) => {
      events++
      if (e.type !== 'put') return
      const r = JSON.parse(e.value)
      if (r.host !== name) latencies.push(Date.now() - r.t)
    },
    { fromRevision: String(BigInt(revision) + 1n) },
  )
  let seq = 0
  const attach = async () => {
    const before = count()
    const eid = `${name}-${seq++}`
    // As the controller claims: a few random addresses straight away, then from a read of the pool.
    let used = new Set()
    for (let attempt = 0; attempt < 64; attempt++) {
      if (attempt === 3) {
        const { entries } = await kv.range(`${P}ipam/`)
        used = new Set([...used, ...entries.map((e) => e.key.slice(`${P}ipam/`.length))])
      }
      const n = Math.floor(Math.random() * 65_000)
      const ip = `10.${128 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`
      if (used.has(ip) || (n & 255) === 0 || (n & 255) === 255) continue
      const won = await kv.txn(
        [{ key: `${P}ipam/${ip}`, absent: true }],
        [
          { put: `${P}ipam/${ip}`, value: eid, lease: 'host' },
          { put: `${P}records/${eid}`, value: JSON.stringify({ host: name, ip, t: Date.now() }), lease: 'host' },
        ],
      )
      if (won) {
        held.set(eid, ip)
        ops.attach.push(diff(before, count()))
        return
      }
      used.add(ip)
    }
    throw new Error('no address')
  }
  const detach = async (eid) => {
    const before = count()
    const ip = held.get(eid)
    held.delete(eid)
    await kv.txn([], [{ delete: `${P}ipam/${ip}` }, { delete: `${P}records/${eid}` }])
    ops.detach.push(diff(before, count()))
  }
  return {
    fill: async (n) => {
      for (let i = 0; i < n; i++) await attach()
    },
    // `rate` churns per second from this host, for `seconds`.
    churn: async (rate, seconds) => {
      const end = Date.now() + seconds * 1000
      const gap = 1000 / rate
      let next = Date.now() + Math.random() * gap
      latencies.length = 0
      events = 0
      while (Date.now() < end) {
        await sleep(Math.max(0, next - Date.now()))
        next += gap
        const eid = [...held.keys()][Math.floor(Math.random() * held.size)]
        if (eid) await detach(eid)
        await attach()
      }
      return { latencies, events, ops }
    },
  }
}

/** A host process: HOSTS_PER_PROCESS hosts, each with its own client, lease and watch. */
async function processMain(indexes) {
  const hosts = []
  for (const i of indexes) hosts.push(await hostMain(i))
  process.on('message', async (msg) => {
    try {
      if (msg.cmd === 'fill') {
        await Promise.all(hosts.map((h) => h.fill(msg.n)))
        process.send({ done: 'fill' })
      } else if (msg.cmd === 'churn') {
        const rs = await Promise.all(hosts.map((h) => h.churn(msg.rate, msg.seconds)))
        process.send({
          done: 'churn',
          latencies: rs.flatMap((r) => r.latencies),
          events: rs.reduce((a, r) => a + r.events, 0),
          ops: { attach: rs.flatMap((r) => r.ops.attach), detach: rs.flatMap((r) => r.ops.detach) },
        })
      }
    } catch (err) {
      process.send({ error: String(err?.stack ?? err) })
    }
  })
  process.send({ ready: true })
}

// ---------------------------------------------------------------- the run (inside the namespace)
function metrics(member) {
  const r = spawnSync('curl', ['-s', `http://127.0.0.1:${member.client}/metrics`], { encoding: 'utf8' })
  const sum = (re) =>
    r.stdout
      .split('\n')
      .filter((l) => re.test(l))
      .reduce((s, l) => s + Number(l.split(' ').pop()), 0)
  return {
    requests: sum(/^grpc_server_handled_total\{/u),
    puts: sum(/^etcd_mvcc_put_total /u),
    deletes: sum(/^etcd_mvcc_delete_total /u),
    txns: sum(/^etcd_mvcc_txn_total /u),
    ranges: sum(/^etcd_mvcc_range_total /u),
    proposals: sum(/^etcd_server_proposals_committed_total /u),
  }
}

function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/u.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

async function inside() {
  spawnSync('ip', ['link', 'set', 'lo', 'up'])
  const dir = mkdtempSync(path.join(tmpdir(), 'cnm-sim-'))
  const { startEtcdCluster } = await import('@cnm/bench-peers')
  const cluster = await startEtcdCluster({ dataDir: dir, size: ENDPOINT_URLS.length, clientPortBase: CLIENT_PORT })
  const etcd = cluster.pids.map((pid) => ({ pid }))
  const children = []
  try {
    log(`etcd up; starting ${HOSTS} hosts`)
    const t0 = Date.now()
    const waitFor = (child, key) =>
      new Promise((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`host process exited ${code}`)))
        const on = (msg) => {
          if (msg.error) reject(new Error(msg.error))
          else if (key in msg || msg.done === key) {
            child.off('message', on)
            resolve(msg)
          }
        }
        child.on('message', on)
      })
    const ask = (child, msg, key) => {
      const answer = waitFor(child, key)
      child.send(msg)
      return answer
    }
    // A few processes at a time: Node processes loading gRPC at once starve 2 cores.
    const procs = Math.ceil(HOSTS / PER_PROCESS)
    const hostsOf = []
    for (let i = 0; i < procs; i += 2) {
      const batch = []
      for (let j = i; j < Math.min(procs, i + 2); j++) {
        const indexes = []
        for (let h = j * PER_PROCESS; h < Math.min(HOSTS, (j + 1) * PER_PROCESS); h++) indexes.push(h)
        const c = fork(SELF, [], {
          env: { ...process.env, SIM_HOSTS: indexes.join(',') },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        })
        children.push(c)
        hostsOf.push(indexes)
        batch.push(waitFor(c, 'ready'))
      }
      await Promise.all(batch)
    }
    log(`${HOSTS} hosts registered and watching in ${Date.now() - t0} ms`)
    const per = Math.floor(ENDPOINTS / HOSTS)
    const tFill = Date.now()
    for (const c of children) await ask(c, { cmd: 'fill', n: per }, 'fill')
    const fillMs = Date.now() - tFill
    log(`${per * HOSTS} endpoints attached in ${fillMs} ms`)
    const m0 = metrics(cluster.members[0])
    const g0 = cluster.members.reduce((s, m) => s + metrics(m).requests, 0)
    const cpu0 = etcd.map((e) => cpuSeconds(e.pid))
    const tChurn = Date.now()
    const results = await Promise.all(
      children.map((c) => ask(c, { cmd: 'churn', rate: CHURN / HOSTS, seconds: SECONDS }, 'churn')),
    )
    const churnS = (Date.now() - tChurn) / 1000
    const m1 = metrics(cluster.members[0])
    const g1 = cluster.members.reduce((s, m) => s + metrics(m).requests, 0)
    const cpu1 = etcd.map((e) => cpuSeconds(e.pid))
    const lat = results.flatMap((r) => r.latencies)
    const events = results.reduce((s, r) => s + r.events, 0)
    const attachOps = results.flatMap((r) => r.ops.attach)
    const detachOps = results.flatMap((r) => r.ops.detach)
    const rate = (k) => ((m1[k] - m0[k]) / churnS).toFixed(0)
    // A dead host: its lease expires, its addresses are free again.
    const victim = children.pop()
    victim.kill('SIGKILL')
    const tDead = Date.now()
    const { createEtcdKV } = await import('../dist/index.js')
    const observer = createEtcdKV({ endpoints: ENDPOINT_URLS, timeoutMs: 10_000 })
    const dead = new Set(hostsOf.at(-1).map((h) => `h${h}`))
    const left = async () =>
      (await observer.range(`${P}records/`)).entries.filter((e) => dead.has(JSON.parse(e.value).host)).length
    while ((await left()) > 0) await sleep(50)
    await observer.close()
    const deadMs = Date.now() - tDead
    const out = {
      hosts: HOSTS,
      endpoints: per * HOSTS,
      churnPerSecond: CHURN,
      seconds: Number(churnS.toFixed(1)),
      fillMs,
      propagationMs: { median: pct(lat, 0.5), p99: pct(lat, 0.99), max: pct(lat, 1), deliveries: lat.length },
      watchEventsPerSecond: Number((events / churnS).toFixed(0)),
      etcdPerSecond: {
        grpcRequestsAllMembers: Number(((g1 - g0) / churnS).toFixed(0)),
        txns: Number(rate('txns')),
        puts: Number(rate('puts')),
        deletes: Number(rate('deletes')),
        ranges: Number(rate('ranges')),
        raftProposals: Number(rate('proposals')),
      },
      etcdCpuPerMember: cpu1.map((c, i) => Number(((c - cpu0[i]) / churnS).toFixed(2))),
      etcdRssMiB: etcd.map((e) => Math.round(rssMiB(e.pid))),
      opsPerAttach: pct(attachOps, 0.5),
      opsPerDetach: pct(detachOps, 0.5),
      deadHostsFreedMs: deadMs,
      deadHosts: dead.size,
      leaseTtlS: TTL,
    }
    console.log(JSON.stringify(out, null, 2))
  } finally {
    for (const c of children) c.kill('SIGKILL')
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.env.SIM_HOSTS !== undefined) {
  await processMain(process.env.SIM_HOSTS.split(',').map(Number)).catch((err) => {
    process.send({ error: String(err?.stack ?? err) })
    process.exit(1)
  })
} else if (process.env.CNM_BENCH_INSIDE === '1') {
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

#!/usr/bin/env node
// Benchmark (not a test) for issue 17: the daemon's other work while its DNS server is under load.
// `cnm serve` owns a bridge network with a DNS server on its gateway; a client sandbox on it runs
// Debian's dnsperf 2.10 against that server (a local name, saturated: `-c 4 -q 100`); meanwhile a
// probe sandbox is connected and disconnected through the REST API, RUNS times. Medians idle and
// under load, for each way the daemon can run its DNS servers (on its event loop, the default;
// on a worker thread per network, `--dns-threads`), in the same run, rounds alternating; and the
// queries/s dnsperf got meanwhile. Target: connect/disconnect under load ≤ 1.1× idle.
// As root; everything happens under `unshare --net --mount` with a tmpfs on /run (namespaces,
// veths, rules and sockets vanish with it) and a temporary store.
//
//   pnpm exec turbo run build --filter @cnm/cli && node packages/cli/bench/dns-load.mjs
//   RUNS=30 SECONDS_LOADED=12 ROUNDS=2 node packages/cli/bench/dns-load.mjs
//   MODES=default,nice5,nice19,idle node packages/cli/bench/dns-load.mjs   # the loop's priorities only
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@cnm/client'

const RUNS = Number(process.env.RUNS ?? 30)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const here = path.dirname(fileURLToPath(import.meta.url))
const CNM = path.join(here, '..', 'dist', 'cnm.cjs')
const RUN = '/run/cnm-dnsload'
const SOCKET = `${RUN}/cnm.sock`
const GATEWAY = '10.201.0.1'
const ALL_MODES = [
  { name: "the daemon's event loop (default: the UDP loop's thread at nice 0, held during each change)", flags: [] },
  // The same without the control plane's hold on the UDP loops (CNM_DNS_HOLD=0, @cnm/dns's README).
  {
    name: 'the event loop, UDP loop at nice 0, never held (CNM_DNS_HOLD=0)',
    flags: [],
    env: { CNM_DNS_HOLD: '0' },
  },
  // The UDP loop's thread below the event loop (CNM_DNS_LOOP_PRIORITY, @cnm/dns's README).
  {
    name: 'the event loop, UDP loop thread at nice 5 (CNM_DNS_LOOP_PRIORITY=5)',
    flags: [],
    env: { CNM_DNS_LOOP_PRIORITY: '5' },
  },
  {
    name: 'the event loop, UDP loop thread at nice 19 (CNM_DNS_LOOP_PRIORITY=19)',
    flags: [],
    env: { CNM_DNS_LOOP_PRIORITY: '19' },
  },
  {
    name: 'the event loop, UDP loop thread at SCHED_IDLE (CNM_DNS_LOOP_PRIORITY=idle)',
    flags: [],
    env: { CNM_DNS_LOOP_PRIORITY: 'idle' },
  },
  { name: 'a worker thread (--dns-threads)', flags: ['--dns-threads'] },
  // @cnm/dns serves UDP on its native loop; this is the same daemon with UDP on Node's dgram.
  { name: "the event loop, UDP on Node's dgram (CNM_DNS_UDP=node)", flags: [], env: { CNM_DNS_UDP: 'node' } },
]
// MODES=default,nohold,nice5,nice19,idle,thread,dgram picks some (all by default), in that order.
const MODE_KEYS = ['default', 'nohold', 'nice5', 'nice19', 'idle', 'thread', 'dgram']
const MODES = process.env.MODES
  ? ALL_MODES.filter((_, i) => process.env.MODES.split(',').includes(MODE_KEYS[i]))
  : ALL_MODES

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6
const log = (msg) => console.error(`dns-load: ${msg}`)

function outside() {
  if (process.getuid() !== 0) throw new Error('run as root')
  if (spawnSync('dnsperf', ['-h'], { stdio: 'ignore' }).error) {
    throw new Error('dnsperf is missing: apt-get install dnsperf (packages/dns/bench/bench.mjs installs it)')
  }
  const r = spawnSync(
    'unshare',
    ['--net', '--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url)],
    { stdio: 'inherit', env: { ...process.env, CNM_BENCH_INSIDE: '1' } },
  )
  process.exit(r.status ?? 1)
}

async function startDaemon(store, resolv, flags, env = {}) {
  const child = spawn(
    process.execPath,
    [
      CNM,
      '--store',
      store,
      '--sandbox-dir',
      `${RUN}/sb`,
      'serve',
      '--socket',
      SOCKET,
      '--log-level',
      'warn',
      '--dns-resolver-dir',
      `${RUN}/resolv`,
      '--dns-resolv-conf',
      resolv,
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  )
  let logs = ''
  child.stderr.on('data', (d) => {
    logs += d
  })
  await new Promise((resolve, reject) => {
    child.stdout.on('data', resolve)
    child.once('exit', (code) => reject(new Error(`cnm serve exited ${code}: ${logs.slice(-2000)}`)))
  })
  const client = createClient({ host: `unix://${SOCKET}` })
  await client.ping()
  return { child, client }
}

function stopDaemon(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })
}

/** CPU time (ms) the daemon's main thread (its event loop: the API) has used so far. */
function mainThreadCpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
}
/** Time (ms) the daemon's main thread has waited on a run queue for a core so far (schedstat). */
function mainThreadWaitMs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6
  } catch {
    return Number.NaN // a kernel without CONFIG_SCHEDSTATS
  }
}
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

async function probe(client, pid) {
  const connect = []
  const disconnect = []
  const cpu0 = mainThreadCpuMs(pid)
  const wait0 = mainThreadWaitMs(pid)
  for (let i = 0; i < RUNS; i++) {
    let t = process.hrtime.bigint()
    await client.connect('bench', { sandbox: 'probe', aliases: ['probe-alias'] })
    connect.push(ms(t))
    t = process.hrtime.bigint()
    await client.disconnect('bench', { sandbox: 'probe' })
    disconnect.push(ms(t))
  }
  // The event loop's CPU per connect + disconnect: what the API costs, and what DNS adds to it.
  const cpuPerCycle = (mainThreadCpuMs(pid) - cpu0) / RUNS
  // How long it waited for a core: what a busy DNS loop thread (or anything else) costs it.
  const waitPerCycle = (mainThreadWaitMs(pid) - wait0) / RUNS
  return { connect: median(connect), disconnect: median(disconnect), cpuPerCycle, waitPerCycle }
}

/** dnsperf inside the client sandbox, saturating the server until stopped; resolves with its q/s. */
function loadStart(key, queries) {
  const child = spawn(
    'nsenter',
    [`--net=${key}`, 'dnsperf', '-s', GATEWAY, '-d', queries, '-c', '4', '-q', '100', '-l', '600', '-t', '2'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout.on('data', (d) => {
    out += d
  })
  const done = new Promise((resolve) => {
    child.once('exit', () => {
      const qps = Number(/Queries per second:\s+([\d.]+)/u.exec(out)?.[1] ?? Number.NaN)
      const lost = Number(/Queries lost:\s+(\d+)/u.exec(out)?.[1] ?? Number.NaN)
      resolve({ qps, lost })
    })
  })
  return {
    stop: () => {
      child.kill('SIGINT')
      return done
    },
  }
}

async function inside() {
  spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', '/run'])
  mkdirSync(RUN, { recursive: true })
  spawnSync('ip', ['link', 'set', 'lo', 'up'])
  const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-dnsload-'))
  const store = path.join(tmp, 'cnm.db')
  const resolv = path.join(tmp, 'resolv.conf')
  writeFileSync(resolv, '') // no upstream: only local names are asked
  const queries = path.join(tmp, 'queries')
  writeFileSync(queries, 'web.cnm.internal A\n')
  const results = new Map(MODES.map((m) => [m.name, []]))
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        rmSync(store, { force: true })
        rmSync(`${store}-wal`, { force: true })
        rmSync(`${store}-shm`, { force: true })
        rmSync(`${store}.id`, { force: true })
        const d = await startDaemon(store, resolv, mode.flags, mode.env)
        const c = d.client
        try {
          await c.createNetwork({ name: 'bench', subnet: '10.201.0.0/24' })
          for (const id of ['client', 'web', 'probe']) await c.createSandbox({ containerID: id })
          await c.connect('bench', { sandbox: 'client' })
          await c.connect('bench', { sandbox: 'web' })
          await probe(c, d.child.pid) // warm-up
          const idle = await probe(c, d.child.pid)
          const key = (await c.inspectSandbox('client')).key
          const load = loadStart(key, queries)
          await new Promise((r) => setTimeout(r, 1000))
          const loaded = await probe(c, d.child.pid)
          const { qps, lost } = await load.stop()
          const r = { idle, loaded, qps, lost }
          results.get(mode.name).push(r)
          log(
            `round ${round + 1} ${mode.name}: connect ${idle.connect.toFixed(1)} → ${loaded.connect.toFixed(1)} ms, disconnect ${idle.disconnect.toFixed(1)} → ${loaded.disconnect.toFixed(1)} ms, main-thread CPU per cycle ${idle.cpuPerCycle.toFixed(1)} → ${loaded.cpuPerCycle.toFixed(1)} ms, waiting for a core ${idle.waitPerCycle.toFixed(2)} → ${loaded.waitPerCycle.toFixed(2)} ms, ${Math.round(qps)} q/s (${lost} lost)`,
          )
          for (const id of ['client', 'web', 'probe']) await c.removeSandbox(id)
          await c.removeNetwork('bench')
        } finally {
          c.close()
          await stopDaemon(d.child)
        }
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  const f = (x, d = 1) => x.toFixed(d)
  console.log(
    `Node ${process.version}; ${RUNS} connect + disconnect cycles per measurement, medians; dnsperf -c 4 -q 100 on web.cnm.internal; ${ROUNDS} rounds`,
  )
  console.log('')
  console.log(
    '| DNS server on | connect idle → loaded | ratio | disconnect idle → loaded | ratio | event-loop CPU per cycle idle → loaded | ratio | event loop waiting for a core per cycle idle → loaded | DNS q/s meanwhile |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const [name, rs] of results) {
    const m = (pick) => median(rs.map(pick))
    const ci = m((r) => r.idle.connect)
    const cl = m((r) => r.loaded.connect)
    const di = m((r) => r.idle.disconnect)
    const dl = m((r) => r.loaded.disconnect)
    const pi = m((r) => r.idle.cpuPerCycle)
    const pl = m((r) => r.loaded.cpuPerCycle)
    const wi = m((r) => r.idle.waitPerCycle)
    const wl = m((r) => r.loaded.waitPerCycle)
    console.log(
      `| ${name} | ${f(ci)} → ${f(cl)} ms | **${f(cl / ci, 2)}×** | ${f(di)} → ${f(dl)} ms | **${f(dl / di, 2)}×** | ${f(pi)} → ${f(pl)} ms | ${f(pl / pi, 2)}× | ${f(wi, 2)} → ${f(wl, 2)} ms | ${Math.round(m((r) => r.qps))} |`,
    )
  }
}

if (process.env.CNM_BENCH_INSIDE === '1') await inside()
else outside()

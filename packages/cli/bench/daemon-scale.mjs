#!/usr/bin/env node
// Benchmark (not a test) for issue 14: the daemon at scale. Grows `cnm serve` to NETWORKS networks
// (default 100), ENDPOINTS endpoints (default 2,000: one sandbox each, connected with one published
// port, which the daemon holds with a bound socket) and SANDBOXES sandboxes in all (default 5,000),
// and records:
//   - connect/disconnect medians (a probe sandbox, RUNS times each, through the REST API) at the
//     start and at the end: the target is flat, last ≤ 1.2× first;
//   - the daemon's start-up with that state (restore + reconcile + every port held again): from
//     spawning `cnm serve` until the API answers, and the daemon's own figure (target ≤ 2 s), the
//     median of RESTARTS restarts (default 5), with the range;
//   - resident memory (VmRSS) before and after, as MiB per 1,000 endpoints.
// As root; everything happens under `unshare --net --mount` with a tmpfs on /run (the namespaces,
// veths, rules and sockets vanish with it) and a temporary store.
//
//   pnpm build && node packages/cli/bench/daemon-scale.mjs
//   NETWORKS=10 ENDPOINTS=200 SANDBOXES=300 node packages/cli/bench/daemon-scale.mjs   # a quick one
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createClient } from '@cnm/client'

const NETWORKS = Number(process.env.NETWORKS ?? 100)
const ENDPOINTS = Number(process.env.ENDPOINTS ?? 2000)
const SANDBOXES = Math.max(ENDPOINTS, Number(process.env.SANDBOXES ?? 5000))
const RUNS = Number(process.env.BENCH_RUNS ?? 20)
const RESTARTS = Math.max(1, Number(process.env.RESTARTS ?? 5))
const here = path.dirname(fileURLToPath(import.meta.url))
const CNM = path.join(here, '..', 'dist', 'cnm.cjs')
const RUN = '/run/cnm-scale'
const SOCKET = `${RUN}/cnm.sock`

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6
const rssMiB = (pid) => Number(/VmRSS:\s+(\d+) kB/u.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024
const log = (msg) => console.error(`scale: ${msg}`)
/** With MARKS=1, prints the monotonic clock (µs, the clock of a `--cpu-prof` profile) at each phase's bounds. */
const mark = (what) => {
  if (process.env.MARKS === '1') log(`mark ${what} ${(Number(process.hrtime.bigint()) / 1000).toFixed(0)}`)
}
/** CPU time (user + system) a process has used, in seconds: less at the mercy of the machine's load than wall time. */
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime, stime (fields 14 and 15) in clock ticks
}

function outside() {
  if (process.getuid() !== 0) throw new Error('run as root')
  const r = spawnSync(
    'unshare',
    ['--net', '--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url)],
    {
      stdio: 'inherit',
      env: { ...process.env, CNM_BENCH_INSIDE: '1' },
    },
  )
  process.exit(r.status ?? 1)
}

/** Starts `cnm serve`; resolves once the API answers, with the time that took and the daemon's log. */
async function startDaemon(store, serveArgs = []) {
  mark('spawn')
  const t = process.hrtime.bigint()
  const nodeArgs = (process.env.DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean) // e.g. --cpu-prof
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      CNM,
      '--store',
      store,
      '--sandbox-dir',
      `${RUN}/sb`,
      'serve',
      ...serveArgs,
      '--socket',
      SOCKET,
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let logs = ''
  child.stderr.on('data', (d) => {
    logs += d
  })
  await new Promise((resolve, reject) => {
    child.stdout.on('data', resolve) // "listening on unix:…" once it serves
    child.once('exit', (code) => reject(new Error(`cnm serve exited ${code}: ${logs.slice(-2000)}`)))
  })
  const client = createClient({ host: `unix://${SOCKET}` })
  await client.ping()
  const answered = ms(t)
  mark('answered')
  const cpu = cpuSeconds(child.pid)
  const started = logs
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .find((l) => l.msg === 'cnm daemon started')
  return { child, client, answered, cpu, daemonMs: started?.startupMs, logs: () => logs }
}

function stopDaemon(child) {
  const t = process.hrtime.bigint()
  return new Promise((resolve) => {
    child.once('exit', () => resolve(ms(t)))
    child.kill('SIGTERM')
  })
}

/** The daemon's main thread's time on a CPU, in ms (`/proc/PID/schedstat`, nanoseconds): its work, not its waits. */
const mainThreadCpuMs = (pid) => Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6

/** RUNS connect + disconnect of the probe sandbox to net0, through the API; with the daemon's main-thread CPU per pair. */
async function probe(client, pid) {
  mark('probe-start')
  const cpu0 = mainThreadCpuMs(pid)
  const connect = []
  const disconnect = []
  for (let i = 0; i < RUNS; i++) {
    let t = process.hrtime.bigint()
    await client.connect('net0', { sandbox: 'probe', publish: '127.0.0.1::80' })
    connect.push(ms(t))
    t = process.hrtime.bigint()
    await client.disconnect('net0', { sandbox: 'probe' })
    disconnect.push(ms(t))
  }
  mark('probe-end')
  const cpuPerPair = (mainThreadCpuMs(pid) - cpu0) / RUNS
  return { connect: median(connect), disconnect: median(disconnect), cpuPerPair }
}

async function inside() {
  spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', '/run'])
  mkdirSync(RUN, { recursive: true })
  spawnSync('ip', ['link', 'set', 'lo', 'up'])
  const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-scale-'))
  const store = path.join(tmp, 'cnm.db')
  let d = await startDaemon(store)
  try {
    let c = d.client
    await c.createNetwork({ name: 'net0', subnet: '10.200.0.0/24' })
    await c.createSandbox({ containerID: 'probe' })
    await probe(c, d.child.pid) // warm-up: every module loaded, the driver and the firewall made
    const rssEmpty = rssMiB(d.child.pid)
    const first = await probe(c, d.child.pid)
    log(`start: connect ${first.connect.toFixed(1)} ms, disconnect ${first.disconnect.toFixed(1)} ms`)

    const tGrow = process.hrtime.bigint()
    for (let n = 1; n < NETWORKS; n++) await c.createNetwork({ name: `net${n}`, subnet: `10.200.${n}.0/24` })
    const connectTimes = []
    for (let i = 0; i < SANDBOXES; i++) {
      await c.createSandbox({ containerID: `c${i}` })
      if (i < ENDPOINTS) {
        const t = process.hrtime.bigint()
        await c.connect(`net${i % NETWORKS}`, { sandbox: `c${i}`, publish: `${20000 + i}:80` })
        connectTimes.push(ms(t))
      }
      if ((i + 1) % 500 === 0) log(`${i + 1} sandboxes, ${Math.min(i + 1, ENDPOINTS)} endpoints`)
    }
    const growMs = ms(tGrow)
    const info = await c.info()
    const rssFull = rssMiB(d.child.pid)
    const fdsFull = readdirSync(`/proc/${d.child.pid}/fd`).length
    if (process.env.FD_KINDS === '1') {
      const kinds = new Map()
      for (const f of readdirSync(`/proc/${d.child.pid}/fd`)) {
        let t = 'gone'
        try {
          t = readlinkSync(`/proc/${d.child.pid}/fd/${f}`)
            .replace(/\[\d+\]|:\[\d+\]/u, '')
            .replace(/\/run\/.*/u, '/run/…')
        } catch {}
        kinds.set(t, (kinds.get(t) ?? 0) + 1)
      }
      log(`fds: ${JSON.stringify([...kinds])}`)
    }
    const last = await probe(c, d.child.pid)
    log(`end: connect ${last.connect.toFixed(1)} ms, disconnect ${last.disconnect.toFixed(1)} ms`)

    // Restart with all of it, RESTARTS times (the median; each start-up is one sample of a noisy
    // measure: the kernel's own background work after the growth weighs on the first).
    const starts = []
    let stopMs = 0
    let after
    let rssRestarted = 0
    let again
    for (let r = 0; r < RESTARTS; r++) {
      c.close()
      stopMs = await stopDaemon(d.child)
      d = await startDaemon(store)
      c = d.client
      starts.push({ answered: d.answered, daemonMs: d.daemonMs, cpu: d.cpu })
      log(
        `restart ${r + 1}: answered in ${(d.answered / 1000).toFixed(2)} s (the daemon's own ${((d.daemonMs ?? Number.NaN) / 1000).toFixed(2)} s, CPU ${d.cpu.toFixed(2)} s)`,
      )
      if (r === 0) {
        after = await c.info()
        rssRestarted = rssMiB(d.child.pid)
        again = await probe(c, d.child.pid)
      }
    }
    const restart = {
      answered: median(starts.map((x) => x.answered)),
      daemonMs: median(starts.map((x) => x.daemonMs ?? Number.NaN)),
      cpu: median(starts.map((x) => x.cpu)),
      range: `${(Math.min(...starts.map((x) => x.answered)) / 1000).toFixed(2)}–${(Math.max(...starts.map((x) => x.answered)) / 1000).toFixed(2)} s`,
    }
    // The same restart without the per-network DNS servers (issue 17's, a worker thread each): what
    // restore + reconcile + held ports cost alone.
    c.close()
    await stopDaemon(d.child)
    d = await startDaemon(store, ['--no-dns'])
    c = d.client
    const noDns = { answered: d.answered, daemonMs: d.daemonMs, cpu: d.cpu, held: (await c.info()).heldPorts }
    const againNoDns = await probe(c, d.child.pid)
    // With no daemon: `cnm network ls` in process on that store (it opens, restores and reconciles
    // everything itself; issue 21 measured 3.0 s at 1,000 sandboxes).
    c.close()
    await stopDaemon(d.child)
    const inProcess = []
    for (let r = 0; r < 3; r++) {
      const t = process.hrtime.bigint()
      const ls = spawnSync(
        process.execPath,
        [CNM, '--store', store, '--sandbox-dir', `${RUN}/sb`, 'network', 'ls', '-q'],
        {
          encoding: 'utf8',
          env: { ...process.env, NODE_EXTRA_CA_CERTS: '' }, // as the installed command runs (its launcher drops it)
        },
      )
      inProcess.push(ms(t))
      if (ls.status !== 0) throw new Error(`in-process network ls: ${ls.stderr}`)
    }
    d = await startDaemon(store, ['--no-dns'])

    const tenth = (xs, end) => {
      const k = Math.max(1, Math.round(xs.length / 10))
      return median(end ? xs.slice(-k) : xs.slice(0, k))
    }
    const out = [
      `Node ${process.version}; ${NETWORKS} networks, ${ENDPOINTS} endpoints (one published port each, held), ${SANDBOXES} sandboxes; medians of ${RUNS}`,
      '',
      '| measure | value | target |',
      '|---|---|---|',
      `| connect, at the start (empty daemon) | ${first.connect.toFixed(1)} ms | |`,
      `| connect, at the end | ${last.connect.toFixed(1)} ms | ≤ 1.2× the start: **${(last.connect / first.connect).toFixed(2)}×** |`,
      `| disconnect, at the start | ${first.disconnect.toFixed(1)} ms | |`,
      `| disconnect, at the end | ${last.disconnect.toFixed(1)} ms | ≤ 1.2× the start: **${(last.disconnect / first.disconnect).toFixed(2)}×** |`,
      `| the daemon's main-thread CPU per connect + disconnect: at the start / at the end / after the restart | ${first.cpuPerPair.toFixed(2)} / ${last.cpuPerPair.toFixed(2)} / ${again.cpuPerPair.toFixed(2)} ms | ${(last.cpuPerPair / first.cpuPerPair).toFixed(2)}× |`,
      `| the ${ENDPOINTS} connects while growing: first 10% / last 10% | ${tenth(connectTimes, false).toFixed(1)} / ${tenth(connectTimes, true).toFixed(1)} ms | ${(tenth(connectTimes, true) / tenth(connectTimes, false)).toFixed(2)}× |`,
      `| growing it (networks, sandboxes, connects) | ${(growMs / 1000).toFixed(1)} s | |`,
      `| state reached | ${info.networks} networks, ${info.endpoints} endpoints, ${info.sandboxes} sandboxes, ${info.ports} published ports, ${info.heldPorts} held | |`,
      `| daemon start-up with that state: spawn → API answers (median of ${RESTARTS}; range) | **${(restart.answered / 1000).toFixed(2)} s** (${restart.range}; CPU ${restart.cpu.toFixed(2)} s) | ≤ 2 s |`,
      `| … of which the daemon's own (open store, restore, reconcile, hold ports, listen) | ${((restart.daemonMs ?? Number.NaN) / 1000).toFixed(2)} s | |`,
      `| … the same restart with \`--no-dns\` (no DNS server per network): spawn → API answers / the daemon's own | **${(noDns.answered / 1000).toFixed(2)} s** / ${((noDns.daemonMs ?? Number.NaN) / 1000).toFixed(2)} s (CPU ${noDns.cpu.toFixed(2)} s; ${noDns.held} ports held) | ≤ 2 s |`,
      `| after the restart: ports held again | ${after.heldPorts} of ${after.ports} | all |`,
      `| connect / disconnect after the restart | ${again.connect.toFixed(1)} / ${again.disconnect.toFixed(1)} ms | |`,
      `| connect / disconnect after the \`--no-dns\` restart (main-thread CPU per pair) | ${againNoDns.connect.toFixed(1)} / ${againNoDns.disconnect.toFixed(1)} ms (${againNoDns.cpuPerPair.toFixed(2)} ms) | |`,
      `| \`cnm network ls\` in process on that store, no daemon (median of 3) | ${(median(inProcess) / 1000).toFixed(2)} s | |`,
      `| stop (SIGTERM → exit) with that state | ${(stopMs / 1000).toFixed(2)} s | |`,
      `| resident memory: warmed up (1 network) / full / restarted | ${rssEmpty.toFixed(0)} / ${rssFull.toFixed(0)} / ${rssRestarted.toFixed(0)} MiB | |`,
      `| the daemon's open file descriptors, full | ${fdsFull} | |`,
      `| resident memory per 1,000 endpoints (full − empty) | **${(((rssFull - rssEmpty) * 1000) / ENDPOINTS).toFixed(1)} MiB** | |`,
    ]
    console.log(out.join('\n'))
  } finally {
    d.client.close()
    await stopDaemon(d.child)
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.env.CNM_BENCH_INSIDE === '1') await inside()
else outside()

#!/usr/bin/env node
// Benchmark (not a test) for @cnm/dns (issue 17): queries per second and p50/p99 latency for a
// local name and a forwarded name, cnm's DNS server against aardvark-dns 1.4 (Debian's, as
// netavark runs it: a config directory with one file per network) for the same network, with the
// same load generator (Debian's dnsperf 2.10), in the same run, rounds alternating. cnm runs on
// its process's event loop (createDnsServer) and on a thread of its own (createDnsServerThread).
// cnm answers UDP on its native receive/send loop (recvmmsg/sendmmsg on a thread, answers stored
// by the JavaScript side) unless CNM_DNS_UDP=node: the run has that variant too (`cnm-dgram`).
// Also the floor of any server on Node's dgram (a no-op UDP echo), and the daemon's other work
// (mini attach/detach cycles through netlink in the server's process) idle and under DNS load.
//
// Runs as root inside a network namespace of its own (a bridge with the gateway 10.77.0.1 and a
// client namespace on it, where dnsperf runs); the machine's network is untouched. Installs
// dnsperf and aardvark-dns with apt when missing (no service starts).
//
//   pnpm --filter @cnm/dns build && node packages/dns/bench/bench.mjs [--seconds 5] [--rounds 3] [--rate 5000] [--json]
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { aptInstall, createPeerNamespace, debVersion, run, which } from '@cnm/bench-peers'
import { CLONE_NEWNET, ensureThreadPool, unshare } from '@cnm/netlink'

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const SECONDS = arg('seconds', 5)
const ROUNDS = arg('rounds', 3)
const RATE = arg('rate', 5000)
const json = process.argv.includes('--json')
const log = (...a) => {
  if (!json) console.log(...a)
}
const here = path.dirname(new URL(import.meta.url).pathname)
const AARDVARK_PATHS = ['/usr/lib/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns']
const findAardvark = () => AARDVARK_PATHS.find((p) => existsSync(p))
const GATEWAY = '10.77.0.1'

// The network: names of four containers (one with an alias), the same for both servers.
const ENTRIES = [
  { id: 'c1'.padEnd(64, '1'), name: 'web', aliases: ['web-alias'], addresses: ['10.77.0.10'] },
  { id: 'c2'.padEnd(64, '2'), name: 'db', aliases: [], addresses: ['10.77.0.11'] },
  { id: 'c3'.padEnd(64, '3'), name: 'api', aliases: [], addresses: ['10.77.0.12'] },
  { id: 'c4'.padEnd(64, '4'), name: 'cache', aliases: [], addresses: ['10.77.0.13'] },
]

if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces, a bridge, port 53)')
  process.exit(2)
}
const missing = [!which('dnsperf') && 'dnsperf', !findAardvark() && 'aardvark-dns'].filter(Boolean)
if (missing.length > 0) {
  const r = await aptInstall(missing, log)
  if (!r.ok) throw new Error(`cannot install ${missing.join(', ')}: ${r.reason}`)
}
const aardvark = findAardvark()
const versions = {
  dnsperf: await debVersion('dnsperf'),
  aardvark: await debVersion('aardvark-dns'),
  node: process.version,
}

// A namespace of our own playing the host: the bridge, the servers and the upstream live here.
await ensureThreadPool()
unshare(CLONE_NEWNET)
const scratch = mkdtempSync(path.join(tmpdir(), 'cnm-dns-bench-'))
const nsDir = path.join(scratch, 'ns')
await run('mkdir', ['-p', nsDir])
await run('ip', ['link', 'set', 'lo', 'up'])
// A fixed MAC, as the bridge driver gives its bridges: otherwise the bridge takes the lowest MAC of
// its ports, and a port added later (the daemon-work cycles) changes it under the clients' ARP caches.
await run('ip', ['link', 'add', 'cnmdnsbr', 'address', '02:42:0a:4d:00:01', 'type', 'bridge'])
await run('ip', ['addr', 'add', `${GATEWAY}/24`, 'dev', 'cnmdnsbr'])
await run('ip', ['link', 'set', 'cnmdnsbr', 'up'])
const client = await createPeerNamespace('dns-client', nsDir)
await run('ip', ['link', 'add', 'cnmdnsv', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client.path])
await run('ip', ['link', 'set', 'cnmdnsv', 'master', 'cnmdnsbr', 'up'])
await run('ip', ['addr', 'add', '10.77.0.2/24', 'dev', 'eth0'], { netns: client.path })
await run('ip', ['link', 'set', 'eth0', 'up'], { netns: client.path })

const resolvConf = path.join(scratch, 'resolv.conf')
writeFileSync(resolvConf, 'nameserver 127.0.0.1\n')
const aardvarkDir = path.join(scratch, 'aardvark')
await run('mkdir', ['-p', aardvarkDir])
writeFileSync(
  path.join(aardvarkDir, 'bench'),
  `${GATEWAY}\n${ENTRIES.map((e) => `${e.id} ${e.addresses.join(',')}  ${[e.name, ...e.aliases].join(',')}`).join('\n')}\n`,
)
const localFile = path.join(scratch, 'local.txt')
writeFileSync(localFile, ['web A', 'db A', 'api A', 'web-alias A', 'cache A'].join('\n'))
const forwardFile = path.join(scratch, 'forward.txt')
writeFileSync(forwardFile, 'forwarded.example A\n')

const children = new Set()
function start(file, args, env = process.env) {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'], env })
  children.add(child)
  child.on('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child))
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)))
  })
}
const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once('exit', resolve)
    child.kill('SIGTERM')
  })

async function waitAnswer(name) {
  const end = Date.now() + 10_000
  while (Date.now() < end) {
    const r = await run('dig', ['+short', '+tries=1', '+time=1', `@${GATEWAY}`, name, 'A'], {
      netns: client.path,
      allowFail: true,
    }).catch(() => ({ stdout: '' }))
    if (/^\d/u.test(r.stdout.trim())) return
    await new Promise((res) => setTimeout(res, 100))
  }
  throw new Error(`no answer for ${name} from ${GATEWAY}`)
}

const clk = Number((await run('getconf', ['CLK_TCK'])).stdout.trim()) || 100
const cpuTicks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(f[11]) + Number(f[12]) // utime + stime (fields 14 and 15)
}

// Each server: a start() that resolves to { pid, stop() }.
const servers = {
  aardvark: async () => {
    // aardvark-dns reads the upstreams from /etc/resolv.conf: give it ours in a private mount
    // namespace (what netavark's setup does), then it daemonizes and writes its pid file.
    const bind = `const { spawnSync } = require('node:child_process')
const [src, cmd, ...args] = process.argv.slice(1)
if (spawnSync('mount', ['--bind', src, '/etc/resolv.conf'], { stdio: 'inherit' }).status !== 0) process.exit(125)
process.exit(spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 126)`
    rmSync(path.join(aardvarkDir, 'aardvark.pid'), { force: true })
    await run('unshare', [
      '--mount',
      '--propagation',
      'private',
      '--',
      process.execPath,
      '-e',
      bind,
      resolvConf,
      aardvark,
      '--config',
      aardvarkDir,
      '-p',
      '53',
      'run',
    ])
    await waitAnswer('web')
    const pid = Number(readFileSync(path.join(aardvarkDir, 'aardvark.pid'), 'utf8').trim())
    return {
      pid,
      async stop() {
        process.kill(pid, 'SIGTERM')
        while (existsSync(`/proc/${pid}`)) {
          const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
          if (state === 'Z') break
          await new Promise((r) => setTimeout(r, 20))
        }
      },
    }
  },
  cnm: () => cnmServer('process'),
  'cnm-thread': () => cnmServer('thread'),
  // The same server with UDP on Node's dgram instead of the native receive/send loop.
  'cnm-dgram': () => cnmServer('process', { ...process.env, CNM_DNS_UDP: 'node' }),
  'node-floor': async () => {
    const child = await start(process.execPath, [path.join(here, 'echo-server.mjs'), GATEWAY])
    return { pid: child.pid, stop: () => stop(child) }
  },
}

async function cnmServer(mode, env) {
  const args = [path.join(here, 'cnm-server.mjs'), GATEWAY, resolvConf, JSON.stringify(ENTRIES), mode]
  const child = await start(process.execPath, args, env)
  await waitAnswer('web')
  return { pid: child.pid, child, stop: () => stop(child) }
}

/** Asks the cnm server's process for `work n` and reads its one-line JSON answer. */
function work(child, n) {
  return new Promise((resolve) => {
    let buf = ''
    const onData = (d) => {
      buf += d
      if (!buf.includes('\n')) return
      child.stdout.off('data', onData)
      resolve(JSON.parse(buf.slice(0, buf.indexOf('\n'))))
    }
    child.stdout.on('data', onData)
    child.stdin.write(`work ${n}\n`)
  })
}

async function dnsperf(file, extra) {
  const r = await run('dnsperf', ['-s', GATEWAY, '-d', file, '-l', String(SECONDS), '-c', '4', '-t', '2', ...extra], {
    netns: client.path,
    timeoutMs: (SECONDS + 30) * 1000,
  })
  const num = (re) => Number(re.exec(r.stdout)?.[1] ?? Number.NaN)
  const out = {
    qps: num(/Queries per second:\s+([\d.]+)/u),
    completed: num(/Queries completed:\s+(\d+)/u),
    lost: num(/Queries lost:\s+(\d+)/u),
  }
  if (extra.includes('-v')) {
    const lat = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('> '))
      .map((l) => Number(l.trim().split(/\s+/u).at(-1)) * 1000)
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b)
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))]
    out.p50 = pct(50)
    out.p99 = pct(99)
  }
  return out
}

async function saturated(pid, file) {
  const c0 = cpuTicks(pid)
  const r = await dnsperf(file, ['-q', '100'])
  const c1 = cpuTicks(pid)
  return { ...r, cpuUsPerQuery: ((c1 - c0) * 1e6) / clk / r.completed }
}

await start(process.execPath, [path.join(here, 'upstream.mjs'), '127.0.0.1', '53'])
const results = Object.fromEntries(Object.keys(servers).map((name) => [name, []]))
const daemonWork = {}
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of Object.keys(servers)) {
      const s = await servers[name]()
      try {
        const r = { local: await saturated(s.pid, localFile) }
        if (name !== 'node-floor') {
          r.forward = await saturated(s.pid, forwardFile)
          r.localLatency = await dnsperf(localFile, ['-q', '100', '-Q', String(RATE), '-v'])
          r.forwardLatency = await dnsperf(forwardFile, ['-q', '100', '-Q', String(RATE), '-v'])
        }
        results[name].push(r)
        log(`round ${round} ${name}: ${JSON.stringify(r)}`)
      } finally {
        await s.stop()
      }
    }
  }
  // The daemon's other work, in the server's process: idle, then while dnsperf saturates it.
  for (const mode of ['process', 'thread', 'dgram']) {
    const s = await (mode === 'dgram' ? cnmServer('process', { ...process.env, CNM_DNS_UDP: 'node' }) : cnmServer(mode))
    try {
      await work(s.child, 10) // warm-up
      const idle = await work(s.child, 60)
      const load = dnsperf(localFile, ['-q', '100', '-l', String(Math.max(SECONDS, 8))])
      await new Promise((r) => setTimeout(r, 1000))
      const loaded = await work(s.child, 60)
      const perf = await load
      daemonWork[mode] = { idle: idle.median, loaded: loaded.median, qpsMeanwhile: perf.qps }
      log(`daemon work, DNS server on the ${mode}: ${JSON.stringify(daemonWork[mode])}`)
    } finally {
      await s.stop()
    }
  }
} finally {
  for (const c of children) c.kill('SIGKILL')
  client.remove()
  rmSync(scratch, { recursive: true, force: true })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const m = (name, key, field) => median(results[name].map((r) => r[key][field]))
const summary = {}
for (const name of Object.keys(results)) {
  summary[name] = { localQps: m(name, 'local', 'qps'), localCpuUs: m(name, 'local', 'cpuUsPerQuery') }
  if (name !== 'node-floor') {
    Object.assign(summary[name], {
      forwardQps: m(name, 'forward', 'qps'),
      forwardCpuUs: m(name, 'forward', 'cpuUsPerQuery'),
      localP50: m(name, 'localLatency', 'p50'),
      localP99: m(name, 'localLatency', 'p99'),
      forwardP50: m(name, 'forwardLatency', 'p50'),
      forwardP99: m(name, 'forwardLatency', 'p99'),
    })
  }
}
if (ROUNDS === 0) {
  log(JSON.stringify(daemonWork))
} else if (json) {
  console.log(
    JSON.stringify({ versions, seconds: SECONDS, rounds: ROUNDS, rate: RATE, results, summary, daemonWork }, null, 2),
  )
} else {
  const a = summary.aardvark
  const c = summary.cnm
  const f = (x, d = 0) => x.toFixed(d)
  log(
    `\n${versions.node}, dnsperf ${versions.dnsperf}, aardvark-dns ${versions.aardvark}; medians of ${ROUNDS} rounds of ${SECONDS} s`,
  )
  log('| measure | aardvark-dns 1.4 | cnm | cnm / aardvark |')
  log('|---|---|---|---|')
  log(
    `| local name, saturated (4 clients, 100 outstanding): queries/s | ${f(a.localQps)} | ${f(c.localQps)} | **${f(c.localQps / a.localQps, 2)}×** |`,
  )
  log(
    `| local name: server CPU per query | ${f(a.localCpuUs, 1)} µs | ${f(c.localCpuUs, 1)} µs | ${f(a.localCpuUs / c.localCpuUs, 2)}× less |`,
  )
  log(
    `| local name at ${RATE} q/s: p50 / p99 | ${f(a.localP50, 3)} / ${f(a.localP99, 3)} ms | ${f(c.localP50, 3)} / ${f(c.localP99, 3)} ms | p99 ${f(c.localP99 / a.localP99, 2)}× |`,
  )
  log(
    `| forwarded name, saturated: queries/s | ${f(a.forwardQps)} | ${f(c.forwardQps)} | **${f(c.forwardQps / a.forwardQps, 2)}×** |`,
  )
  log(
    `| forwarded name: server CPU per query | ${f(a.forwardCpuUs, 1)} µs | ${f(c.forwardCpuUs, 1)} µs | ${f(a.forwardCpuUs / c.forwardCpuUs, 2)}× less |`,
  )
  log(
    `| forwarded name at ${RATE} q/s: p50 / p99 | ${f(a.forwardP50, 3)} / ${f(a.forwardP99, 3)} ms | ${f(c.forwardP50, 3)} / ${f(c.forwardP99, 3)} ms | p99 ${f(c.forwardP99 / a.forwardP99, 2)}× |`,
  )
  const t = summary['cnm-thread']
  log(
    `| cnm on a thread (createDnsServerThread): local / forwarded queries/s | | ${f(t.localQps)} / ${f(t.forwardQps)} | ${f(t.localQps / a.localQps, 2)}× / ${f(t.forwardQps / a.forwardQps, 2)}× |`,
  )
  log(
    `| cnm on a thread: local p50 / p99 at ${RATE} q/s | | ${f(t.localP50, 3)} / ${f(t.localP99, 3)} ms | p99 ${f(t.localP99 / a.localP99, 2)}× |`,
  )
  for (const [mode, w] of Object.entries(daemonWork)) {
    log(
      `daemon work (attach/detach cycle, median) with the DNS server on the ${mode}: idle ${f(w.idle, 2)} ms, under ${f(w.qpsMeanwhile)} q/s ${f(w.loaded, 2)} ms (${f(w.loaded / w.idle, 2)}×)`,
    )
  }
  const d = summary['cnm-dgram']
  log(
    `| cnm with UDP on Node's dgram (CNM_DNS_UDP=node): local queries/s, CPU per query, p99 | | ${f(d.localQps)}, ${f(d.localCpuUs, 1)} µs, ${f(d.localP99, 3)} ms | ${f(d.localQps / a.localQps, 2)}× |`,
  )
  // A forwarded query is the native loop's miss: received on its thread, handed to the event loop
  // (a thread-safe function), forwarded, and its answer sent by the event loop itself on the same
  // socket. Against Node's dgram (the event loop receives it directly): what the hand-over costs.
  log(
    `| forwarded name, native loop against Node's dgram: queries/s, CPU per query, p99 at ${RATE} q/s | ${f(d.forwardQps)}, ${f(d.forwardCpuUs, 1)} µs, ${f(d.forwardP99, 3)} ms | ${f(c.forwardQps)}, ${f(c.forwardCpuUs, 1)} µs, ${f(c.forwardP99, 3)} ms | ${f(c.forwardQps / d.forwardQps, 2)}× q/s, p99 ${f(c.forwardP99 / d.forwardP99, 2)}× |`,
  )
  const floor = summary['node-floor']
  log(
    `\nNode dgram floor (a UDP echo that does nothing else): ${f(floor.localQps)} q/s, ${f(floor.localCpuUs, 1)} µs CPU per query`,
  )
  log(
    `target: local queries/s >= 2x aardvark: ${c.localQps >= 2 * a.localQps ? 'met' : 'NOT met'}; local p99 no worse: ${c.localP99 <= a.localP99 ? 'met' : 'NOT met'}`,
  )
}

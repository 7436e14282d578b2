// Shows the peers working and measures them (CNI bridge+host-local+portmap, netavark).
//
//   pnpm exec turbo run build --filter=@cnm/bench-peers... && node tools/bench-peers/demo.mjs [N ...] [--peers cni,netavark] [--json]
//
// Root only. Installs the peers from Debian when missing (while it still has the machine's
// network), then moves the whole process into a fresh network namespace (unshare) so nothing it
// does touches the machine's real network. Each peer plays the host in a namespace of its own
// (its bridge, veth host ends and iptables rules live there; 198.51.100.10 on its lo plays the
// host's address). Per N it makes N container namespaces (/run/cnm-bench/...), attaches and
// detaches them through each peer with one published port each, verifies every attach for real
// (address inside the container, TCP through the published port from the host address and from
// localhost, hairpin and container-to-container for the first and last), prints medians, then
// cleans up (deletes the peer's namespace) and checks that nothing is left. At the end it compares
// the machine's own namespace (links, addresses, nft ruleset, iptables-save) and the process's
// namespace with what they were before the run.

import { spawnSync } from 'node:child_process'
import { closeSync, constants, existsSync, openSync, rmdirSync } from 'node:fs'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { CLONE_NEWNET, createNetns, deleteNetns, ensureThreadPool, unshare, withNetnsSync } from '@cnm/netlink'
import { createCniPeer, createNetavarkPeer, ensurePeersInstalled, run } from './dist/index.js'

const HOST_ADDRESS = '198.51.100.10' // plays the host's own address, on lo of each peer's namespace
const SERVICE_PORT = 80
const NETNS_DIR = '/run/cnm-bench'

// ----------------------------------------------------------------------------------- arguments

const argv = process.argv.slice(2)
const json = argv.includes('--json')
const peersArg =
  argv.find((a) => a.startsWith('--peers='))?.slice(8) ??
  (argv.includes('--peers') ? argv[argv.indexOf('--peers') + 1] : 'cni,netavark')
const wantedPeers = new Set(peersArg.split(','))
const sizes = argv.filter((a) => /^\d+$/.test(a) && argv[argv.indexOf(a) - 1] !== '--peers').map(Number)
if (sizes.length === 0) sizes.push(10)
if (sizes.some((n) => n < 1 || n > 1000)) throw new Error('N must be 1..1000')
if (process.getuid?.() !== 0) {
  console.error('peers-demo: must run as root')
  process.exit(2)
}

const log = (...a) => {
  if (!json) console.log(...a)
}

// ----------------------------------------------------------------------------------- helpers

function sh(file, args, opts = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', ...opts })
  if (r.error) throw r.error
  return r
}

function must(file, args, opts) {
  const r = sh(file, args, opts)
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r.stdout
}

/** What "the network" of a namespace looks like, normalised (no comments, no counters). */
function networkState(nsenterPrefix = []) {
  const cmd = (file, args) => {
    const full = nsenterPrefix.length ? ['nsenter', [...nsenterPrefix, file, ...args]] : [file, args]
    const r = sh(full[0], full[1])
    return r.status === 0 ? r.stdout : `<${file} failed: ${r.stderr.trim()}>`
  }
  const strip = (s) =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[]'))
      .join('\n')
  return {
    links: cmd('ip', ['-br', 'link']),
    addrs: cmd('ip', ['-br', 'addr']),
    routes: cmd('ip', ['route', 'show', 'table', 'all']),
    nft: cmd('nft', ['list', 'ruleset']),
    iptables: strip(cmd('iptables-save', [])),
    ip6tables: strip(cmd('ip6tables-save', [])),
  }
}

function diffState(before, after) {
  return Object.keys(before).filter((k) => before[k] !== after[k])
}

function median(xs) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const fmt = (ms) => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : '-')

/** Opens a TCP connection from inside `nsPath` (a short-lived node child born there) and returns what the server said first. */
async function tcpHelloFrom(nsPath, host, port, timeoutMs = 3000) {
  const code = `
    const s = require('net').connect({ host: ${JSON.stringify(host)}, port: ${port} });
    let d = ''; const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(1) }, ${timeoutMs});
    s.on('data', (x) => { d += x }); s.on('end', () => { clearTimeout(t); console.log(d.trim()) });
    s.on('error', (e) => { clearTimeout(t); console.log('ERROR ' + e.code); process.exit(1) });`
  const r = await run(process.execPath, ['-e', code], { netns: nsPath, allowFail: true, timeoutMs: timeoutMs + 5000 })
  return r.stdout.trim()
}

/** A listener on port 80 inside the container namespace, answering with the container's tag. */
function listenIn(nsPath, tag) {
  const server = net.createServer((sock) => sock.end(`${tag}\n`))
  server.on('error', (err) => console.error(`server ${tag}: ${err.message}`))
  // listen() without a host binds synchronously, so the socket is born in the container's namespace.
  withNetnsSync(nsPath, () => server.listen(SERVICE_PORT))
  return server
}

async function containerAddresses(nsPath) {
  return JSON.parse((await run('ip', ['-j', 'addr', 'show'], { netns: nsPath })).stdout)
}

// ----------------------------------------------------------------------------------- one peer, one N

async function runPeer(makePeer, kind, n) {
  const peer = await makePeer()
  const nsPaths = []
  const servers = []
  const attachMs = []
  const detachMs = []
  const checks = { address: 0, hostPort: 0, localhost: 0, hairpin: [], crossContainer: [], detached: 0 }
  const leftovers = []
  try {
    await run('ip', ['addr', 'add', `${HOST_ADDRESS}/32`, 'dev', 'lo'], { netns: peer.netns })
    for (let i = 0; i < n; i++) {
      const p = `${NETNS_DIR}/peers-${process.pid}-${kind}-${i}`
      await createNetns(p)
      nsPaths.push(p)
      await run('ip', ['link', 'set', 'lo', 'up'], { netns: p })
      servers.push(listenIn(p, `c${i}`))
    }

    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await peer.attach(i, nsPaths[i])
      attachMs.push(performance.now() - t0)

      // Verification (not timed).
      const want = peer.addressOf(i)
      const eth0 = (await containerAddresses(nsPaths[i])).find((l) => l.ifname === 'eth0')
      const got = eth0?.addr_info?.find((a) => a.family === 'inet')?.local
      if (!got || got !== want) throw new Error(`${peer.name} container ${i}: eth0 has ${got}, expected ${want}`)
      checks.address++
      const hp = peer.hostPort(i)
      if ((await tcpHelloFrom(peer.netns, HOST_ADDRESS, hp)) !== `c${i}`)
        throw new Error(`${peer.name} container ${i}: wrong answer on ${HOST_ADDRESS}:${hp}`)
      checks.hostPort++
      if ((await tcpHelloFrom(peer.netns, '127.0.0.1', hp)) !== `c${i}`)
        throw new Error(`${peer.name} container ${i}: wrong answer on 127.0.0.1:${hp}`)
      checks.localhost++
    }

    // Hairpin (a container through its own published port) and container-to-container through
    // another one's published port, for the first and last containers.
    for (const i of [...new Set([0, n - 1])]) {
      const own = await tcpHelloFrom(nsPaths[i], HOST_ADDRESS, peer.hostPort(i))
      checks.hairpin.push(`c${i}->${HOST_ADDRESS}:${peer.hostPort(i)}: ${own === `c${i}` ? 'ok' : own || 'no answer'}`)
      if (n > 1) {
        const j = (i + 1) % n
        const other = await tcpHelloFrom(nsPaths[i], HOST_ADDRESS, peer.hostPort(j))
        checks.crossContainer.push(
          `c${i}->c${j} via ${HOST_ADDRESS}:${peer.hostPort(j)}: ${other === `c${j}` ? 'ok' : other || 'no answer'}`,
        )
      }
    }

    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      await peer.detach(i, nsPaths[i])
      detachMs.push(performance.now() - t0)
      if ((await containerAddresses(nsPaths[i])).some((l) => l.ifname === 'eth0'))
        throw new Error(`${peer.name} container ${i}: eth0 still there after detach`)
      checks.detached++
    }
  } finally {
    for (const s of servers) s.close()
    for (const p of nsPaths) deleteNetns(p)
    await peer.cleanup()
    // The peer's namespace must be gone, and nothing of it may be in the bench namespace.
    if (existsSync(peer.netns)) leftovers.push(`namespace ${peer.netns}`)
    const links = sh('ip', ['-j', 'link']).stdout
    if (JSON.parse(links).some((l) => l.ifname === peer.bridge)) leftovers.push(`bridge ${peer.bridge}`)
    const prefix = kind === 'cni' ? 'CNI-' : 'NETAVARK'
    for (const save of ['iptables-save', 'ip6tables-save']) {
      const lines = sh(save, [])
        .stdout.split('\n')
        .filter((l) => l.includes(prefix) || l.includes(peer.subnet))
      leftovers.push(...lines.map((l) => `${save}: ${l}`))
    }
    const tables = sh('nft', ['list', 'tables']).stdout.trim()
    if (tables) leftovers.push(`nft tables: ${tables.replace(/\n/g, ', ')}`)
  }

  const k = Math.max(1, Math.round(n / 10))
  return {
    peer: peer.name,
    n,
    attach: median(attachMs),
    detach: median(detachMs),
    attachFirst10: median(attachMs.slice(0, k)),
    attachLast10: median(attachMs.slice(-k)),
    detachFirst10: median(detachMs.slice(0, k)),
    detachLast10: median(detachMs.slice(-k)),
    checks,
    leftovers,
  }
}

// ----------------------------------------------------------------------------------- main

const available = await ensurePeersInstalled({ log: (m) => log(`peers: ${m}`) })
const peerMakers = []
if (wantedPeers.has('cni')) {
  if (available.cni.available) peerMakers.push(['cni', () => createCniPeer()])
  else log(`CNI peer unavailable: ${available.cni.reason}`)
}
if (wantedPeers.has('netavark')) {
  if (available.netavark.available) peerMakers.push(['netavark', () => createNetavarkPeer()])
  else log(`netavark peer unavailable: ${available.netavark.reason}`)
}
log(
  `CNI: ${available.cni.available ? `${available.cni.pluginDir} (containernetworking-plugins ${available.cni.version})` : available.cni.reason}`,
)
log(
  `netavark: ${available.netavark.available ? `${available.netavark.binary} (netavark ${available.netavark.version})` : available.netavark.reason}`,
)

// The machine's own namespace, before; and a handle on it to look again at the end (read only).
const hostBefore = networkState()
const hostNsFd = openSync('/proc/thread-self/ns/net', constants.O_RDONLY)
const hostNsPath = `/proc/${process.pid}/fd/${hostNsFd}`

// Into a fresh namespace for good. The thread pool starts first so that its threads are not
// created after the switch (they stay in the host namespace, and are never used for network work).
await ensureThreadPool()
unshare(CLONE_NEWNET)
must('ip', ['link', 'set', 'lo', 'up'])
const benchBefore = networkState()
if (benchBefore.links === hostBefore.links) throw new Error('unshare did not give a fresh namespace')

const results = []
let failed = false
for (const n of sizes) {
  for (const [kind, make] of peerMakers) {
    log(`\n== ${kind}, N=${n}`)
    try {
      const r = await runPeer(make, kind, n)
      results.push(r)
      log(
        `attach median ${fmt(r.attach)} (first 10% ${fmt(r.attachFirst10)}, last 10% ${fmt(r.attachLast10)}, ` +
          `x${(r.attachLast10 / r.attachFirst10).toFixed(2)}); detach median ${fmt(r.detach)} ` +
          `(first 10% ${fmt(r.detachFirst10)}, last 10% ${fmt(r.detachLast10)})`,
      )
      log(
        `verified: ${r.checks.address} addresses, ${r.checks.hostPort} via host address, ${r.checks.localhost} via localhost, ${r.checks.detached} detached`,
      )
      log(`hairpin: ${r.checks.hairpin.join('; ')}`)
      if (r.checks.crossContainer.length) log(`container to container: ${r.checks.crossContainer.join('; ')}`)
      log(`left behind after cleanup(): ${r.leftovers.length ? r.leftovers.join('\n  ') : 'nothing'}`)
      if (r.leftovers.length) failed = true
    } catch (err) {
      failed = true
      console.error(`${kind} N=${n} failed: ${err.stack ?? err}`)
    }
  }
}

try {
  rmdirSync(NETNS_DIR)
} catch {} // another run's namespaces are still there
const benchAfter = networkState()
const benchChanged = diffState(benchBefore, benchAfter)
const hostAfter = networkState([`--net=${hostNsPath}`])
closeSync(hostNsFd)
const hostChanged = diffState(hostBefore, hostAfter)

if (json) {
  console.log(
    JSON.stringify(
      { available, results, benchNamespaceChanged: benchChanged, hostNamespaceChanged: hostChanged },
      null,
      2,
    ),
  )
} else {
  console.log('\npeer                              N   attach   first10%  last10%  last/first  detach')
  for (const r of results) {
    console.log(
      `${r.peer.padEnd(32)} ${String(r.n).padStart(3)}  ${fmt(r.attach).padStart(8)} ${fmt(r.attachFirst10).padStart(9)} ${fmt(r.attachLast10).padStart(8)}` +
        `  ${`x${(r.attachLast10 / r.attachFirst10).toFixed(2)}`.padStart(10)}  ${fmt(r.detach).padStart(8)}`,
    )
  }
  console.log(
    `\nbench namespace after all cleanups: ${benchChanged.length ? `changed: ${benchChanged.join(', ')}` : 'same as before'}`,
  )
  console.log(
    `machine's own namespace: ${hostChanged.length ? `CHANGED: ${hostChanged.join(', ')}` : 'unchanged (links, addresses, routes, nft, iptables, ip6tables)'}`,
  )
}
if (benchChanged.length) {
  for (const k of benchChanged) console.error(`--- bench ${k} before\n${benchBefore[k]}\n--- after\n${benchAfter[k]}`)
}
if (hostChanged.length) failed = true
process.exit(failed ? 1 : 0)

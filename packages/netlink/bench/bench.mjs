#!/usr/bin/env node
// Benchmark (not a test) for @cnm/netlink: address add+del, veth create+delete, and a whole attach
// (veth with the peer born in the sandbox under its final name, addresses, up, default route, host
// end on a bridge) through a netlink handle, against the same steps with spawned `ip` commands as
// the baseline, in the same run. Runs as root inside a fresh network namespace of its own, so the
// machine's network is never touched.
//
//   pnpm --filter @cnm/netlink build && node packages/netlink/bench/bench.mjs [iterations]
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { CLONE_NEWNET, createNetns, deleteNetns, ensureThreadPool, openHandle, unshare } from '../dist/index.js'

const N = Number(process.argv[2] ?? 200)
const NS_DIR = '/run/netns' // so that `ip -n NAME` finds the baseline's namespaces

function ip(...args) {
  const r = spawnSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

async function time(fn) {
  const t = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}

async function measure(name, n, ours, theirs) {
  const a = []
  const b = []
  for (let i = 0; i < n; i++) {
    a.push(await time(() => ours(i)))
    b.push(await time(() => theirs(i)))
  }
  const [ma, mb] = [median(a), median(b)]
  console.log(
    `${name.padEnd(28)} netlink ${ma.toFixed(3).padStart(8)} ms   ip ${mb.toFixed(3).padStart(8)} ms   ${(mb / ma).toFixed(1)}x`,
  )
  return { name, netlinkMs: ma, ipMs: mb, ratio: mb / ma }
}

await ensureThreadPool()
unshare(CLONE_NEWNET) // a fresh namespace plays the host for the whole run
ip('link', 'set', 'lo', 'up')
mkdirSync(NS_DIR, { recursive: true })
const h = await openHandle()
const br = 'cnmbenchbr0'
await h.createBridge(br)
await h.addAddress(br, '10.123.0.1/16')
await h.setLinkUp(br)

const results = []
results.push(
  await measure(
    'address add + del',
    N,
    async () => {
      await h.addAddress(br, '10.124.0.1/24')
      await h.deleteAddress(br, '10.124.0.1/24')
    },
    () => {
      ip('addr', 'add', '10.124.0.1/24', 'dev', br)
      ip('addr', 'del', '10.124.0.1/24', 'dev', br)
    },
  ),
)
results.push(
  await measure(
    'veth create + delete',
    Math.min(N, 100),
    async () => {
      await h.createVeth('cnmbv0', 'cnmbv1')
      await h.deleteLink('cnmbv0')
    },
    () => {
      ip('link', 'add', 'cnmbv0', 'type', 'veth', 'peer', 'name', 'cnmbv1')
      ip('link', 'del', 'cnmbv0')
    },
  ),
)

// Whole attach: sandboxes made beforehand (not timed), one per iteration and side.
const M = Math.min(N, 100)
const ours = []
const theirs = []
for (let i = 0; i < M; i++) {
  const a = `${NS_DIR}/cnmbench-a${i}`
  const b = `${NS_DIR}/cnmbench-b${i}`
  await createNetns(a)
  await createNetns(b)
  ours.push({ path: a, handle: await openHandle({ netns: a }) })
  theirs.push({ path: b, name: `cnmbench-b${i}` })
}
const addr = (i) => `10.123.${1 + (i >> 8)}.${i & 255}/16`
results.push(
  await measure(
    'whole attach',
    M,
    async (i) => {
      const sb = ours[i].handle
      await h.createVeth(`cnmha${i}`, 'eth0', { peerNetns: ours[i].path })
      await h.setMaster(`cnmha${i}`, br)
      await h.setLinkUp(`cnmha${i}`)
      await sb.addAddress('eth0', addr(i))
      await sb.setLinkUp('eth0')
      await sb.addRoute({ destination: 'default', gateway: '10.123.0.1' })
    },
    (i) => {
      const ns = theirs[i].name
      ip('link', 'add', `cnmhb${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('link', 'set', `cnmhb${i}`, 'master', br, 'up')
      ip('-n', ns, 'addr', 'add', addr(i + 128), 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'route', 'add', 'default', 'via', '10.123.0.1')
    },
  ),
)

for (const o of ours) {
  o.handle.close()
  deleteNetns(o.path)
}
for (const t of theirs) deleteNetns(t.path)
await h.deleteLink(br)
h.close()
rmSync(`${NS_DIR}/.cnm-bench`, { force: true })

const attach = results.find((r) => r.name === 'whole attach')
console.log(
  `\nwhole attach median ${attach.netlinkMs.toFixed(3)} ms (target ≤ 3 ms): ${attach.netlinkMs <= 3 ? 'met' : 'MISSED'}`,
)
console.log(
  `whole attach vs spawned ip ${attach.ratio.toFixed(1)}x (target ≥ 5x): ${attach.ratio >= 5 ? 'met' : 'MISSED'}`,
)
console.log(`process RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB (spawn cost grows with it)`)

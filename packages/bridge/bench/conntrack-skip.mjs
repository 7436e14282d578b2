#!/usr/bin/env node
// Benchmark (not a test) for issue 14: what a connect or disconnect spends flushing conntrack when
// its namespace tracks nothing. Before: one conntrack dump (which walks the kernel's whole conntrack
// hash, shared by every namespace) and, for a wildcard port, one address dump; now: one read of
// `net.netfilter.nf_conntrack_count` (`conntrackEmpty`). As root, in a throwaway namespace
// (`unshare --net`) with LINKS veth pairs (default 400, each end with its IPv6 link-local address,
// as a daemon's host has); CPU and wall time of RUNS of each, interleaved, medians.
//
//   pnpm --filter @cnm/bridge build && node packages/bridge/bench/conntrack-skip.mjs
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { openHandle } from '@cnm/netlink'
import { conntrackEmpty } from '../dist/conntrack-empty.js'

const LINKS = Number(process.env.LINKS ?? 400)
const RUNS = Number(process.env.BENCH_RUNS ?? 51)

if (process.env.CNM_BENCH_INSIDE !== '1') {
  if (process.getuid() !== 0) throw new Error('run as root')
  const r = spawnSync('unshare', ['--net', process.execPath, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, CNM_BENCH_INSIDE: '1' },
  })
  process.exit(r.status ?? 1)
}
spawnSync('ip', ['link', 'set', 'lo', 'up'])
const batch = Array.from(
  { length: LINKS },
  (_, i) => `link add cs${i}a type veth peer name cs${i}b\nlink set cs${i}a up\nlink set cs${i}b up`,
).join('\n')
spawnSync('ip', ['-batch', '-'], { input: `${batch}\n` })
const host = await openHandle()
const matches = [{ proto: 'tcp', port: 20000, endPort: 20000, destination: ['127.0.0.0/8'] }, { address: '10.9.9.9' }]
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = async (fn) => {
  const c = process.cpuUsage()
  const t = performance.now()
  await fn()
  const u = process.cpuUsage(c)
  return [performance.now() - t, (u.user + u.system) / 1000]
}
const before = { wall: [], cpu: [] }
const after = { wall: [], cpu: [] }
for (let i = 0; i < RUNS; i++) {
  const [w1, c1] = await time(async () => {
    await host.listAddresses()
    await host.flushConntrack(matches)
  })
  before.wall.push(w1)
  before.cpu.push(c1)
  const [w2, c2] = await time(async () => {
    if (!conntrackEmpty(host)) throw new Error('this namespace tracks connections: not the case measured')
  })
  after.wall.push(w2)
  after.cpu.push(c2)
}
host.close()
console.log(`${LINKS} veth pairs in the namespace, nothing tracked; medians of ${RUNS}, ms`)
console.log('| flush of one endpoint | wall | CPU |')
console.log('|---|---|---|')
console.log(
  `| address dump + conntrack dump (before) | ${median(before.wall).toFixed(2)} | ${median(before.cpu).toFixed(2)} |`,
)
console.log(
  `| \`nf_conntrack_count\` read (now) | ${median(after.wall).toFixed(3)} | ${median(after.cpu).toFixed(3)} |`,
)
console.log(`| ratio (wall) | ${(median(before.wall) / median(after.wall)).toFixed(0)}× | |`)

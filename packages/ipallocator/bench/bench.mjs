// Benchmark of @cnm/ipallocator against libnetwork's seed algorithm (a map of address strings,
// scanned with big integers from the last address handed out), both in this process.
// Run: pnpm run build && node bench/bench.mjs
import os from 'node:os'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { bigIntToAddress, IPAllocator, numberToIPv4, parseCIDR } from '../dist/index.js'

v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc')

/** The seed allocator: pools keyed by the network text, a Map of address strings, a BigInt cursor. */
class SeedAllocator {
  pools = new Map()

  pool(network) {
    let p = this.pools.get(network)
    if (p === undefined) {
      const c = parseCIDR(network)
      const begin = c.networkValue + 1n
      p = { family: c.family, list: new Map(), begin, end: c.lastValue - 1n, last: begin - 1n }
      this.pools.set(network, p)
    }
    return p
  }

  requestIP(network) {
    const p = this.pool(network)
    let pos = p.last
    const allRange = p.end - p.begin
    for (let i = 0n; i <= allRange; i++) {
      pos += 1n
      if (pos > p.end) pos = p.begin
      const key = bigIntToAddress(pos, p.family)
      if (p.list.has(key)) continue
      p.list.set(key, true)
      p.last = pos
      return key
    }
    throw new Error('no available ip addresses on network')
  }

  releaseIP(network, ip) {
    this.pools.get(network)?.list.delete(ip)
  }
}

/** Deterministic PRNG (mulberry32) so both allocators see the same sequence. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const now = () => performance.now()
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits })
const rows = []

/** Runs `step` up to `max` times or until `budgetMs` is spent; returns [ops, ms]. */
function timed(max, budgetMs, step) {
  const start = now()
  let ops = 0
  while (ops < max) {
    step(ops)
    ops++
    if ((ops & 255) === 0 && now() - start > budgetMs) break
  }
  return [ops, now() - start]
}

function report(name, ops, oursOps, oursMs, seedOps, seedMs) {
  const ours = oursMs / oursOps
  const seed = seedMs / seedOps
  const note = seedOps < ops ? `seed: ${fmt(seedOps)} of ${fmt(ops)} ops run, extrapolated` : 'both run in full'
  rows.push({ name, ops, ours, seed, note, oursMs, seedMs: seed * ops })
}

// 1. Fill a /16.
function fill16() {
  const net = '172.20.0.0/16'
  const ours = new IPAllocator()
  const [oursOps, oursMs] = timed(65534, Number.POSITIVE_INFINITY, () => ours.requestIP(net))
  const seed = new SeedAllocator()
  const [seedOps, seedMs] = timed(65534, 20_000, () => seed.requestIP(net))
  report('fill a /16 (65,534 requests)', 65534, oursOps, oursMs, seedOps, seedMs)
}

// 2. One million allocations in an IPv6 /64.
function v6million() {
  const net = '2001:db8:1::/64'
  const n = 1_000_000
  const ours = new IPAllocator()
  const [oursOps, oursMs] = timed(n, Number.POSITIVE_INFINITY, () => ours.requestIP(net))
  const seed = new SeedAllocator()
  const [seedOps, seedMs] = timed(n, 15_000, () => seed.requestIP(net))
  report('1 M requests in an IPv6 /64', n, oursOps, oursMs, seedOps, seedMs)
}

// 3. Request/release churn in a /16 that is 99% full: release a random held address, request one.
function churn(make, n, budgetMs) {
  const net = '10.20.0.0/16'
  const a = make()
  const held = []
  for (let i = 0; i < 65534; i++) held.push(a.requestIP(net))
  const random = prng(42)
  for (let i = 0; i < 655; i++) {
    const j = Math.floor(random() * held.length)
    a.releaseIP(net, held[j])
    held[j] = held[held.length - 1]
    held.pop()
  }
  const out = []
  const result = timed(n, budgetMs, (k) => {
    const j = Math.floor(random() * held.length)
    a.releaseIP(net, held[j])
    held[j] = a.requestIP(net)
    if (k < 2000) out.push(held[j])
  })
  return [...result, out]
}

function churn16() {
  const n = 1_000_000
  const [oursOps, oursMs, oursSeq] = churn(() => new IPAllocator(), n, Number.POSITIVE_INFINITY)
  const [seedOps, seedMs, seedSeq] = churn(() => new SeedAllocator(), n, 15_000)
  const same = seedSeq.every((ip, i) => ip === oursSeq[i])
  if (!same) throw new Error('churn: the two allocators handed out different addresses')
  report('churn in a 99%-full /16 (release + request)', n, oursOps, oursMs, seedOps, seedMs)
}

// 4. Memory of a /8 pool, empty and full, and churn when only one address is free.
function memory() {
  const usage = () => {
    gc()
    gc()
    const m = process.memoryUsage()
    return { heap: m.heapUsed, buffers: m.arrayBuffers }
  }
  const net = '10.0.0.0/8'
  // An empty /8 pool (one address taken): averaged over 20 pools to rise above heap noise.
  const e0 = usage()
  const empties = []
  for (let i = 0; i < 20; i++) {
    const a = new IPAllocator()
    a.requestIP(net)
    empties.push(a)
  }
  const e1 = usage()
  const emptyPer = (e1.heap + e1.buffers - e0.heap - e0.buffers) / empties.length
  empties.length = 0
  const before = usage()
  const ours = new IPAllocator()
  ours.requestIP(net)
  const fillStart = now()
  for (let i = 1; i < 16777214; i++) ours.requestIP(net)
  const fillMs = now() - fillStart
  const full = usage()
  const random = prng(7)
  const [churnOps, churnMs] = timed(100_000, Number.POSITIVE_INFINITY, () => {
    const v = 0x0a000001 + Math.floor(random() * 16777214)
    const ip = numberToIPv4(v)
    ours.releaseIP(net, ip)
    if (ours.requestIP(net) !== ip) throw new Error('full /8: expected the freed address back')
  })
  // The seed's map for a full /16, scaled to a /8.
  const s0 = usage()
  const seed = new SeedAllocator()
  for (let i = 0; i < 65534; i++) seed.requestIP('172.21.0.0/16')
  const s1 = usage()
  const seedPer = (s1.heap + s1.buffers - s0.heap - s0.buffers) / 65534
  return { before, emptyPer, full, fillMs, churnOps, churnMs, seedPer, keep: [ours, seed] }
}

const MiB = 1024 * 1024
// Warm up both implementations so the JIT has compiled the hot paths.
{
  const w = new IPAllocator()
  const s = new SeedAllocator()
  for (let i = 0; i < 20000; i++) {
    w.requestIP('192.0.2.0/16')
    s.requestIP('192.0.2.0/16')
    w.requestIP('2001:db8:9::/64')
    s.requestIP('2001:db8:9::/64')
  }
}

const started = now()
fill16()
v6million()
churn16()
const mem = memory()
const total = now() - started

const lines = []
lines.push(
  `Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores), ${os.platform()} ${os.arch()}.`,
)
lines.push('')
lines.push('| scenario | ops | @cnm/ipallocator | seed algorithm | ratio |')
lines.push('|---|---:|---:|---:|---:|')
for (const r of rows) {
  lines.push(
    `| ${r.name} | ${fmt(r.ops)} | ${fmt(r.ours * 1e6)} ns/op (${fmt(r.oursMs)} ms) | ${fmt(r.seed * 1e6)} ns/op (${fmt(r.seedMs)} ms${r.note.startsWith('seed') ? ', extrapolated' : ''}) | **${fmt(r.seed / r.ours, 1)}×** |`,
  )
}
lines.push('')
for (const r of rows) if (r.note.startsWith('seed')) lines.push(`- ${r.name}: ${r.note}.`)
const fullHeap = mem.full.heap - mem.before.heap
const fullBuffers = mem.full.buffers - mem.before.buffers
lines.push(
  `- /8 pool (16,777,214 addresses): empty ${fmt(mem.emptyPer / 1024, 1)} KiB; full ${fmt((fullHeap + fullBuffers) / MiB, 2)} MiB ` +
    `(heap used ${fmt(fullHeap / MiB, 2)} MiB + typed-array pages ${fmt(fullBuffers / MiB, 2)} MiB); filled by requestIP in ${fmt(mem.fillMs)} ms ` +
    `(${fmt((mem.fillMs / 16777213) * 1e6)} ns/op).`,
)
lines.push(
  `- Full /8 with one free address (release a random address, request it back): ${fmt((mem.churnMs / mem.churnOps) * 1e6)} ns/op over ${fmt(mem.churnOps)} ops.`,
)
lines.push(
  `- Seed algorithm memory: ${fmt(mem.seedPer, 0)} bytes per allocated address (measured on a full /16), so a full /8 would need about ${fmt((mem.seedPer * 16777214) / MiB / 1024, 2)} GiB (extrapolated, not run).`,
)
lines.push(`- Total bench time ${fmt(total / 1000, 1)} s.`)
console.log(lines.join('\n'))

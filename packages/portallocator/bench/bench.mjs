// Benchmark for @cnm/portallocator (not a test). Run: pnpm run build && node bench/bench.mjs
//
// 1. Fill the whole range, then 100 000 request/release pairs with the range 99% full, against
//    the seed's algorithm (libnetwork's portallocator: a map of held ports and a linear scan from
//    the last port handed out), implemented below as the baseline and run in the same process.
// 2. Any-port requests per second without OS sync (filling the range again and again).
// 3. The same with syncWithOS on (the default), which reads the kernel's socket tables.
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { performance } from 'node:perf_hooks'
import { PortAllocator } from '../dist/index.js'

const BEGIN = 49153 // DEFAULT_PORT_RANGE_START
const END = 65535 // DEFAULT_PORT_RANGE_END
const SIZE = END - BEGIN + 1
const PAIRS = 100_000
const FREE = Math.round(SIZE * 0.01) // 99% full

/** The seed's PortAllocator, as written in libnetwork (portallocator.go), minus the mutex. */
class SeedPortAllocator {
  constructor(begin, end) {
    this.begin = begin
    this.end = end
    this.ipMap = new Map()
  }

  newPortMap() {
    const defaultRange = `${this.begin}-${this.end}`
    return {
      p: new Map(),
      defaultRange,
      portRanges: new Map([[defaultRange, { begin: this.begin, end: this.end, last: this.end }]]),
    }
  }

  requestPort(ip, proto, port) {
    if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') throw new Error('unknown protocol')
    const ipstr = ip ?? '0.0.0.0'
    let protomap = this.ipMap.get(ipstr)
    if (protomap === undefined) {
      protomap = { tcp: this.newPortMap(), udp: this.newPortMap(), sctp: this.newPortMap() }
      this.ipMap.set(ipstr, protomap)
    }
    const mapping = protomap[proto]
    if (port > 0) {
      if (mapping.p.has(port)) throw new Error(`Bind for ${ipstr}:${port} failed: port is already allocated`)
      mapping.p.set(port, true)
      return port
    }
    const pr = mapping.portRanges.get(mapping.defaultRange)
    let candidate = pr.last
    for (let i = 0; i <= pr.end - pr.begin; i++) {
      candidate++
      if (candidate > pr.end) candidate = pr.begin
      if (!mapping.p.has(candidate)) {
        mapping.p.set(candidate, true)
        pr.last = candidate
        return candidate
      }
    }
    throw new Error('all ports are allocated')
  }

  releasePort(ip, proto, port) {
    const protomap = this.ipMap.get(ip ?? '0.0.0.0')
    if (protomap === undefined) return
    protomap[proto].p.delete(port)
  }
}

/** A fixed pseudo-random sequence, so both allocators free exactly the same ports. */
function portsToFree() {
  let seed = 0x5eed
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff
    return seed / 0x80000000
  }
  const ports = new Set()
  while (ports.size < FREE) ports.add(BEGIN + Math.floor(next() * SIZE))
  return [...ports]
}

// One function per allocator and phase, so each call site sees one class (as in real use).

function fillSeed(a) {
  const t = performance.now()
  for (let i = 0; i < SIZE; i++) a.requestPort(null, 'tcp', 0)
  return performance.now() - t
}

function fillOurs(a) {
  const t = performance.now()
  for (let i = 0; i < SIZE; i++) a.requestPort(null, 'tcp')
  return performance.now() - t
}

function pairsSeed(a) {
  const t = performance.now()
  for (let i = 0; i < PAIRS; i++) a.releasePort(null, 'tcp', a.requestPort(null, 'tcp', 0))
  return performance.now() - t
}

function pairsOurs(a) {
  const t = performance.now()
  for (let i = 0; i < PAIRS; i++) a.releasePort(null, 'tcp', a.requestPort(null, 'tcp'))
  return performance.now() - t
}

function fullThenPairs(make, fill, pairs) {
  // filling is timed on fresh allocators, best of 5 after 5 warm-up fills
  const fillMs = best(() => fill(make()))
  const a = make()
  fill(a)
  let exhausted = false
  try {
    a.requestPort(null, 'tcp', 0)
  } catch (err) {
    exhausted = /all ports are allocated/.test(err.message)
  }
  if (!exhausted) throw new Error('the full range did not report exhaustion')
  for (const port of portsToFree()) a.releasePort(null, 'tcp', port)
  return { fillMs, pairsMs: best(() => pairs(a)) }
}

/**
 * The fastest of 5 timed runs after 5 warm-up runs (V8 needs a few hundred thousand calls to
 * settle). Each run leaves the state as it found it: the free set does not change.
 */
function best(run) {
  for (let i = 0; i < 5; i++) run()
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < 5; i++) min = Math.min(min, run())
  return min
}

/** Any-port requests per second: fill the whole range, release everything, repeat. */
function anyPortRate(a, seconds) {
  let requests = 0
  const size = a.end - a.begin + 1
  const t = performance.now()
  let elapsed = 0
  while (elapsed < seconds * 1000) {
    for (let i = 0; i < size; i++) a.requestPort(null, 'tcp')
    requests += size
    a.releaseAll()
    elapsed = performance.now() - t
  }
  return requests / (elapsed / 1000)
}

function anyPortRateSynced(seconds) {
  // the same loop on an allocator that reads the kernel's socket tables
  return anyPortRate(new PortAllocator({ begin: BEGIN, end: END }), seconds)
}

function pairsSynced() {
  const a = new PortAllocator({ begin: BEGIN, end: END })
  fillOurs(a)
  for (const port of portsToFree()) a.releasePort(null, 'tcp', port)
  return best(() => pairsOurs(a))
}

/**
 * The same pairs on a specific address, and on 0.0.0.0 while another IPv4 address holds a port
 * (the wildcard then shares its ports with that address): the slower paths, for the record.
 */
function pairsAt(ip, neighbour) {
  const a = new PortAllocator({ begin: BEGIN, end: END, syncWithOS: false })
  if (neighbour !== undefined) a.requestPort(neighbour, 'tcp', END)
  try {
    for (;;) a.requestPort(ip, 'tcp')
  } catch {
    // full
  }
  for (const port of portsToFree()) a.releasePort(ip, 'tcp', port)
  const pairs = () => {
    const t = performance.now()
    for (let i = 0; i < PAIRS; i++) a.releasePort(ip, 'tcp', a.requestPort(ip, 'tcp'))
    return performance.now() - t
  }
  return best(pairs)
}

/** What one refresh of the OS snapshot costs here: reading the four socket tables. */
function tableReadMs() {
  const read = () => {
    const t = performance.now()
    for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
      try {
        readFileSync(`/proc/thread-self/net/${table}`, 'latin1')
      } catch {
        // no such table here
      }
    }
    return performance.now() - t
  }
  read()
  return Math.min(read(), read(), read())
}

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
const perOp = (ms, ops) => `${fmt((ms * 1e6) / ops, 1)} ns`

const seed = fullThenPairs(() => new SeedPortAllocator(BEGIN, END), fillSeed, pairsSeed)
const ours = fullThenPairs(() => new PortAllocator({ begin: BEGIN, end: END, syncWithOS: false }), fillOurs, pairsOurs)
const rate = Math.max(anyPortRate(new PortAllocator({ begin: BEGIN, end: END, syncWithOS: false }), 1), 0)
const syncedPairsMs = pairsSynced()
const syncedRate = anyPortRateSynced(1)
const specificMs = pairsAt('10.0.0.1')
const sharedMs = pairsAt('0.0.0.0', '10.0.0.9')

console.log(`@cnm/portallocator benchmark — Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`)
console.log(`range ${BEGIN}-${END} (${fmt(SIZE)} ports), 0.0.0.0/tcp`)
console.log('')
console.log(`fill the range (${fmt(SIZE)} any-port requests on a fresh allocator)`)
console.log(`  seed algorithm  ${fmt(seed.fillMs, 2)} ms  (${perOp(seed.fillMs, SIZE)}/request)`)
console.log(`  portallocator   ${fmt(ours.fillMs, 2)} ms  (${perOp(ours.fillMs, SIZE)}/request)`)
console.log('')
console.log(`${fmt(PAIRS)} request/release pairs, range 99% full (${FREE} free ports)`)
console.log(`  seed algorithm  ${fmt(seed.pairsMs, 2)} ms  (${perOp(seed.pairsMs, PAIRS)}/pair)`)
console.log(`  portallocator   ${fmt(ours.pairsMs, 2)} ms  (${perOp(ours.pairsMs, PAIRS)}/pair)`)
console.log(`  ratio           ${fmt(seed.pairsMs / ours.pairsMs, 1)}x faster than the seed (target >= 100x)`)
console.log('')
console.log('any-port requests per second (fill the range, releaseAll, repeat)')
console.log(`  syncWithOS off  ${fmt(rate / 1e6, 2)} M/s (target >= 5 M/s)`)
console.log(`  syncWithOS on   ${fmt(syncedRate / 1e6, 2)} M/s`)
console.log('')
console.log('with syncWithOS on (reads /proc/net/{tcp,tcp6,udp,udp6} when its snapshot is stale)')
console.log(`  ${fmt(PAIRS)} pairs, 99% full  ${fmt(syncedPairsMs, 2)} ms  (${perOp(syncedPairsMs, PAIRS)}/pair)`)
console.log(`  ratio to the seed  ${fmt(seed.pairsMs / syncedPairsMs, 1)}x`)
console.log(`  one read of the four socket tables here: ${fmt(tableReadMs(), 2)} ms`)
console.log('')
console.log('the same pairs on other paths (syncWithOS off)')
console.log(
  `  on 10.0.0.1 (a specific address)          ${perOp(specificMs, PAIRS)}/pair, ${fmt(seed.pairsMs / specificMs, 1)}x the seed`,
)
console.log(
  `  on 0.0.0.0 while 10.0.0.9 holds a port     ${perOp(sharedMs, PAIRS)}/pair, ${fmt(seed.pairsMs / sharedMs, 1)}x the seed`,
)

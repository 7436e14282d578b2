#!/usr/bin/env node
// Benchmark (not a test) for issue 14: the check of foreign sockets behind each publish of a port
// asked for by number, while the process holds PORTS published ports (default 2,000) with bound
// sockets and FOREIGN other sockets are bound. Before: every publish filtered the whole read of the
// socket tables (the holds included) and then scanned it once per port (`some`); a restore of
// PORTS ports was quadratic. Now: the read is indexed by port once (`indexBound`) and each publish
// looks its port up. Same machine, same run, CPU time of each, medians of RUNS; no root needed.
//
//   pnpm --filter @cnm/portmapper build && node packages/portmapper/bench/bound-index.mjs
import { indexBound } from '../dist/bound-index.js'

const PORTS = Number(process.env.PORTS ?? 2000)
const FOREIGN = Number(process.env.FOREIGN ?? 200)
const RUNS = Number(process.env.BENCH_RUNS ?? 9)

const key = (b) => `${b.proto}/${b.ip}:${b.port}`
const held = new Set()
const list = []
for (let i = 0; i < PORTS; i++) {
  const b = { proto: 'tcp', family: 4, ip: '0.0.0.0', port: 20000 + i }
  list.push(b)
  held.add(key(b))
}
for (let i = 0; i < FOREIGN; i++)
  list.push({ proto: 'tcp', family: i % 2 ? 6 : 4, ip: i % 2 ? '::' : '0.0.0.0', port: 1024 + i })
const blocks = (b, ip, family, port) => {
  if (b.port !== port) return false
  const any = family === 4 ? '0.0.0.0' : '::'
  if (b.family === family) return b.ip === ip || b.ip === any || ip === any
  return b.family === 6 && b.ip === '::' && family === 4
}

/** The previous code: per publish, a filter of every socket, then a scan per port (twice: adopted? free?). */
function before() {
  let hits = 0
  for (let i = 0; i < PORTS; i++) {
    const port = 20000 + i
    const foreign = list.filter((b) => !held.has(key(b)))
    if (foreign.some((b) => blocks(b, '0.0.0.0', 4, port))) hits++
    if (foreign.some((b) => blocks(b, '0.0.0.0', 4, port))) hits++
  }
  return hits
}

/** Now: one index per read; a lookup per port. */
function after() {
  let hits = 0
  const index = indexBound(list, (b) => !held.has(key(b)))
  for (let i = 0; i < PORTS; i++) {
    const port = 20000 + i
    if (index.on(port).some((b) => blocks(b, '0.0.0.0', 4, port))) hits++
    if (index.on(port).some((b) => blocks(b, '0.0.0.0', 4, port))) hits++
  }
  return hits
}

const cpuMs = (fn) => {
  const c = process.cpuUsage()
  const r = fn()
  const u = process.cpuUsage(c)
  if (r !== 0) throw new Error('a held port was taken for a foreign one')
  return (u.user + u.system) / 1000
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const a = []
const b = []
for (let i = 0; i < RUNS; i++) {
  a.push(cpuMs(before))
  b.push(cpuMs(after))
}
console.log(`${PORTS} publishes, ${PORTS} held + ${FOREIGN} foreign sockets bound; CPU ms, medians of ${RUNS}`)
console.log(`| filter per publish (before) | ${median(a).toFixed(1)} |`)
console.log(`| index per read (now) | ${median(b).toFixed(1)} |`)
console.log(`| ratio | ${(median(a) / median(b)).toFixed(0)}× |`)

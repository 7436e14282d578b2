#!/usr/bin/env node
// Benchmark (not a test) for the address announcement at join (issue 19): what `addInterface`'s
// last step — arp_notify/ndisc_notify, waiting until the link runs, the MAC set again — costs on
// top of the rest of the join (addresses, MAC, up), measured in the same run on the same kind of
// interface: a veth whose host end is a port of a bridge, up, its peer in a container's namespace.
// Runs as root in a fresh network namespace of its own (the machine's network is untouched).
//
//   pnpm --filter @cnm/sandbox... build && node packages/sandbox/bench/announce.mjs [N]
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { CLONE_NEWNET, createNetns, deleteNetns, ensureThreadPool, openHandle, unshare } from '@cnm/netlink'
import { announceAddresses } from '../dist/announce.js'

const N = Number(process.argv[2] ?? 50)
const dir = `/run/cnm-bench-announce-${process.pid}`
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6

await ensureThreadPool()
unshare(CLONE_NEWNET)
const host = await openHandle()
await host.createBridge('br-bench', { mac: '02:00:00:00:00:01' })
await host.setLinkUp('br-bench')
const setup = []
const announce = []
try {
  for (let i = 0; i < N; i++) {
    const ns = `${dir}/c${i}`
    await createNetns(ns)
    const hostVeth = `vb${randomBytes(4).toString('hex')}`
    await host.createVeth(hostVeth, 'eth0', { peerNetns: ns })
    await host.setMaster(hostVeth, 'br-bench')
    await host.setLinkUp(hostVeth)
    const inside = await openHandle({ netns: ns })
    const ip = `10.${Math.floor(i / 250)}.${i % 250}.2`
    let t0 = process.hrtime.bigint()
    await inside.setMac(
      'eth0',
      `02:00:0a:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    )
    await inside.addAddress('eth0', `${ip}/8`)
    await inside.addAddress('eth0', `fd00::${(i + 2).toString(16)}/64`, { noDad: true })
    await inside.setLinkUp('eth0')
    setup.push(ms(t0))
    t0 = process.hrtime.bigint()
    await announceAddresses(inside, 'eth0', { address: `${ip}/8`, addressIPv6: 'fd00::2/64' })
    announce.push(ms(t0))
    inside.close()
  }
} finally {
  for (let i = 0; i < N; i++) {
    try {
      await deleteNetns(`${dir}/c${i}`)
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true })
}
const s = median(setup)
const a = median(announce)
console.log(`N = ${N} joins (medians, ms): addresses + MAC + up ${s.toFixed(3)}, announcement ${a.toFixed(3)}`)
console.log(`announcement / rest of the join = ${(a / s).toFixed(2)} (whole attach before: ~2.5-3.6 ms, BENCHMARKS.md)`)

#!/usr/bin/env node
// Benchmark (not a test) for issue 18: what the global scope costs the controller. One controller,
// two in-memory drivers that differ only in scope (`@cnm/driverapi/testing`: no kernel work, so
// the difference is the cluster's): RUNS attaches and detaches on a local network and on a global
// one (address claimed with compare-and-swap in a 3-member etcd cluster, released on detach).
// Prints the medians, their ratio, and the etcd requests per attach and per detach, counted by the
// client. As root: etcd (started by `@cnm/bench-peers`) runs under `unshare --net --mount` on that
// namespace's loopback only.
//
//   pnpm exec turbo run build --filter @cnm/controller... && node packages/controller/bench/global-attach.mjs
//   ETCD_TMPFS=1 node packages/controller/bench/global-attach.mjs   # etcd's data on tmpfs (no fsync cost)
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNS = Number(process.env.BENCH_RUNS ?? 200)
const SELF = fileURLToPath(import.meta.url)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6

async function inside() {
  spawnSync('ip', ['link', 'set', 'lo', 'up'])
  // ETCD_TMPFS=1: etcd's data (and the store) on /dev/shm, so fsync costs nothing: what is left is
  // the raft round trip and the client.
  const dir = mkdtempSync(path.join(process.env.ETCD_TMPFS === '1' ? '/dev/shm' : tmpdir(), 'cnm-gbench-'))
  const { startEtcdCluster } = await import('@cnm/bench-peers')
  const etcd = await startEtcdCluster({ dataDir: dir })
  const { createController } = await import('@cnm/controller')
  const { createMemorySandboxes } = await import('@cnm/controller/testing')
  const { createMemoryDriver, createMemoryKernel } = await import('@cnm/driverapi/testing')
  const { connectCluster } = await import('@cnm/etcd-store')
  const cluster = connectCluster({
    store: etcd.store,
    advertise: '127.0.0.1',
    host: 'bench',
  })
  const kernel = createMemoryKernel()
  const controller = await createController({
    storePath: path.join(dir, 'cnm.db'),
    sandboxBackend: createMemorySandboxes(path.join(dir, 'netns')),
    drivers: {
      gmem: ({ owner }) => createMemoryDriver({ kernel, owner, name: 'gmem', scope: 'global' }),
      lmem: ({ owner }) => createMemoryDriver({ kernel, owner, name: 'lmem' }),
    },
    cluster,
  })
  try {
    const local = await controller.newNetwork(await controller.newNetworkDriver('lmem'), 'local', {})
    const global = await controller.newNetwork(await controller.newNetworkDriver('gmem'), 'global', {})
    const ops = () => cluster.kv.stats.reads + cluster.kv.stats.txns + cluster.kv.stats.writes
    const measure = async (net) => {
      const attach = []
      const detach = []
      const attachOps = []
      const detachOps = []
      for (let i = 0; i < RUNS + 20; i++) {
        let o = ops()
        let t = process.hrtime.bigint()
        const { endpoint } = await net.createEndpoint(`ep${i}`, undefined, {})
        const a = ms(t)
        const ao = ops() - o
        o = ops()
        t = process.hrtime.bigint()
        await endpoint.delete()
        if (i >= 20) {
          attach.push(a)
          detach.push(ms(t))
          attachOps.push(ao)
          detachOps.push(ops() - o)
        }
      }
      return {
        attach: median(attach),
        detach: median(detach),
        attachOps: median(attachOps),
        detachOps: median(detachOps),
      }
    }
    const l = await measure(local)
    const g = await measure(global)
    const f = (x) => x.toFixed(2)
    console.log(`controller attach/detach, in-memory driver, ${RUNS} runs each (medians)`)
    console.log('| scope | attach | detach | etcd requests per attach | per detach |')
    console.log('|---|---|---|---|---|')
    console.log(`| local (SQLite) | ${f(l.attach)} ms | ${f(l.detach)} ms | ${l.attachOps} | ${l.detachOps} |`)
    console.log(
      `| global (etcd, 3 members) | ${f(g.attach)} ms | ${f(g.detach)} ms | ${g.attachOps} | ${g.detachOps} |`,
    )
    console.log(`global/local: attach ${f(g.attach / l.attach)}×, detach ${f(g.detach / l.detach)}×`)
    await global.delete()
    await local.delete()
  } finally {
    await controller.close()
    await cluster.close()
    await etcd.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.env.CNM_BENCH_INSIDE === '1') {
  await inside()
  process.exit(0)
} else {
  if (process.getuid() !== 0) throw new Error('run as root')
  const r = spawnSync('unshare', ['--net', '--mount', '--propagation', 'private', process.execPath, SELF], {
    stdio: 'inherit',
    env: { ...process.env, CNM_BENCH_INSIDE: '1' },
  })
  process.exit(r.status ?? 1)
}

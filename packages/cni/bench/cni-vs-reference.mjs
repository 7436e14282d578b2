#!/usr/bin/env node
// Benchmark (not a test) for issue 16: a runtime's ADD and DEL through the `cnm` CNI plugin (the
// native forwarder, the cnm daemon listening on its default socket) beside the reference chain
// `loopback` + `bridge` (+ `host-local`) + `portmap` from Debian's containernetworking-plugins, in
// the same run, on the same machine: each container with one published port, N = 10 and N = 100
// (after 10 unmeasured warm-up containers each). Prints medians, the ratios reference/cnm (targets:
// ADD ≥ 2, DEL ≥ 3) and flatness (last 10% / first 10% of ADDs, target ≤ 1.2).
//
// As root. Re-runs itself under `unshare --net --mount` with a tmpfs on /run: the daemon, its
// socket (/run/cnm/cnm.sock, found by the plugin without any CNM_* variable), the store and every
// namespace live there and in a temporary directory; the machine is left as it was.
//
//   pnpm --filter @cnm/cni... build && pnpm --filter @cnm/cli build && node packages/cni/bench/cni-vs-reference.mjs
//
// BENCH_N (default "10,100") picks the sizes (empty: only the start costs). BENCH_CPU_PROF=<dir>
// runs the daemon under `node --cpu-prof` (profiles in <dir>); BENCH_CNM_ONLY=1 skips the reference
// chain (for profiling only: the ratios need it).
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const CNM = path.join(here, '..', '..', 'cli', 'dist', 'cnm.cjs')
const SIZES = (process.env.BENCH_N ?? '10,100').split(',').filter(Boolean).map(Number)

if (process.env.CNM_BENCH_INSIDE !== '1') {
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

const { createCniPeer, findCniPluginDir, measurePeer, run, childEnv } = await import('@cnm/bench-peers')
const { installCni } = await import('@cnm/cni')

spawnSync('mount', ['-t', 'tmpfs', 'none', '/run'], { stdio: 'inherit' })
spawnSync('ip', ['link', 'set', 'lo', 'up'])
const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-cni-bench-'))
const nsDir = path.join('/run', 'bench-ns')
mkdirSync(nsDir, { recursive: true })
const pluginDir = findCniPluginDir()
if (!pluginDir) throw new Error('the reference CNI plugins are not installed (scripts/setup.sh installs them)')

// The daemon, on the default socket, with its own store.
const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : []
const daemon = spawn(
  process.execPath,
  [...prof, CNM, '--store', path.join(tmp, 'cnm.db'), 'serve', '--log-level', 'error'],
  { stdio: ['ignore', 'ignore', 'inherit'] },
)
for (let i = 0; ; i++) {
  const ok = spawnSync('test', ['-S', '/run/cnm/cnm.sock']).status === 0
  if (ok) break
  if (i > 600) throw new Error('the daemon did not start')
  await new Promise((r) => setTimeout(r, 50))
}
const { plugin } = installCni({ binDir: path.join(tmp, 'bin') })

/** The daemon's CPU time so far, in ms (every thread: /proc/<pid>/task/<tid>/schedstat, in ns). */
function daemonCpuMs() {
  let ns = 0
  for (const tid of readdirSync(`/proc/${daemon.pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${daemon.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {}
  }
  return ns / 1e6
}

/** The daemon's CPU time per measured ADD (warm-ups left out), by container number. */
const addCpu = new Map()

/** cnm as a runtime runs it: CNI_* only, the configuration on stdin. */
function cnmPeer(n) {
  const conf = (i) =>
    JSON.stringify({
      cniVersion: '1.0.0',
      name: `cnmbench${n}`,
      type: 'cnm',
      subnet: `10.${200 + (n % 50)}.0.0/16`,
      runtimeConfig: { portMappings: [{ hostPort: 30000 + (i % 20000), containerPort: 80, protocol: 'tcp' }] },
    })
  const env = (cmd, i, nsPath) => ({
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: `bench${n}-${i}`,
    CNI_NETNS: nsPath,
    CNI_IFNAME: 'eth0',
    CNI_PATH: path.dirname(plugin),
  })
  return {
    name: 'cnm',
    async attach(i, nsPath) {
      const t = daemonCpuMs()
      await run(plugin, [], { env: env('ADD', i, nsPath), input: conf(i) })
      if (i < 1000) addCpu.set(i, daemonCpuMs() - t)
    },
    detach: (i, nsPath) => run(plugin, [], { env: env('DEL', i, nsPath), input: conf(i) }),
  }
}

/** The reference chain with `loopback` first (lo up), as a runtime's conflist would run it. */
function withLoopback(peer) {
  const lo = (cmd, i, nsPath) =>
    run(path.join(pluginDir, 'loopback'), [], {
      env: childEnv({
        CNI_COMMAND: cmd,
        CNI_CONTAINERID: `lo${i}`,
        CNI_NETNS: nsPath,
        CNI_IFNAME: 'lo',
        CNI_PATH: pluginDir,
      }),
      input: JSON.stringify({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }),
      netns: peer.netns,
    })
  return {
    name: 'reference',
    async attach(i, nsPath) {
      await lo('ADD', i, nsPath)
      await peer.attach(i, nsPath)
    },
    async detach(i, nsPath) {
      await peer.detach(i, nsPath)
      await lo('DEL', i, nsPath)
    },
  }
}

const f = (x) => x.toFixed(1)
const rows = []

/** Where a call's time goes: the forwarder alone, one round trip to the daemon, Node's start-up. */
async function startCosts(runs = 20) {
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'costs', type: 'cnm', subnet: '10.199.0.0/24' })
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const time = async (file, args, cmd) => {
    const xs = []
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint()
      await run(file, args, { env: { CNI_COMMAND: cmd, CNI_PATH: path.dirname(plugin) }, input: conf })
      xs.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
    return median(xs)
  }
  const node = path.join(path.dirname(plugin), '.cnm-cni-node')
  const costs = {
    'forwarder VERSION (C, no daemon)': await time(plugin, [], 'VERSION'),
    'forwarder STATUS (C -> daemon -> answer)': await time(plugin, [], 'STATUS'),
    'Node executable VERSION (Node start-up)': await time(node, [], 'VERSION'),
    'Node executable STATUS (Node -> daemon)': await time(node, [], 'STATUS'),
    'reference bridge plugin VERSION (Go start-up)': await time(path.join(pluginDir, 'bridge'), [], 'VERSION'),
  }
  for (const [k, v] of Object.entries(costs)) console.log(`start cost: ${k}: ${f(v)} ms (median of ${runs})`)
}
await startCosts()
try {
  for (const n of SIZES) {
    const ref = await createCniPeer({
      subnet: `10.${150 + (n % 50)}.0.0/16`,
      networkName: `ref${n}`,
      bridge: `cniref${n}`,
    })
    let r
    let c
    try {
      r = process.env.BENCH_CNM_ONLY === '1' ? undefined : await measurePeer(withLoopback(ref), n, { nsDir })
      c = await measurePeer(cnmPeer(n), n, { nsDir })
      r ??= c // profiling only: the ratios then say nothing
    } finally {
      await ref.cleanup()
    }
    rows.push({ n, r, c })
    const cpu = [...addCpu.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
    addCpu.clear()
    const k = Math.max(1, Math.floor(cpu.length / 10))
    const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const [cf, cl] = [med(cpu.slice(0, k)), med(cpu.slice(-k))]
    console.log(
      `N=${n}: daemon CPU per ADD (schedstat, all threads): median ${f(med(cpu))} ms, first 10% ${f(cf)} ms, last 10% ${f(cl)} ms, flatness ${(cl / cf).toFixed(2)} (target <= 1.2)`,
    )
    console.log(
      `N=${n}: ADD reference ${f(r.attach)} ms, cnm ${f(c.attach)} ms, ratio ${f(r.attach / c.attach)}x (target >= 2) | ` +
        `DEL reference ${f(r.detach)} ms, cnm ${f(c.detach)} ms, ratio ${f(r.detach / c.detach)}x (target >= 3) | ` +
        `flatness cnm last/first ${f(c.last)}/${f(c.first)} = ${(c.last / c.first).toFixed(2)} (target <= 1.2), reference ${(r.last / r.first).toFixed(2)}`,
    )
  }
} finally {
  daemon.kill('SIGTERM')
  await new Promise((r) => daemon.once('exit', r))
  rmSync(tmp, { recursive: true, force: true })
}

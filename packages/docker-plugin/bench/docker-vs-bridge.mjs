#!/usr/bin/env node
// Benchmark (not a test) for issue 15: Docker's own commands on a cnm network (`-d cnm --ipam-driver
// cnm`, served by `cnm serve --docker-plugin`) against the same commands on Docker's own bridge
// driver, in the same run: `docker network connect`, `docker network disconnect` of a running
// container, and `docker run -d --network … -p <port>:80` (then `docker rm -f`, timed apart).
// Medians of BENCH_RUNS (default 20), interleaved (which side goes first alternates); the ratio
// cnm / Docker's bridge (target ≤ 1.0), and the daemons' CPU time per command beside it. Then the
// daemons' part alone: the same connect and disconnect as Engine API requests on each dockerd's
// socket (no `docker` command, whose own start of 55-75 ms is most of a command's time here).
// Connect and disconnect also run on a third side, the floor of Docker's plugin protocol: the same
// dockerd as cnm's with a plugin that does nothing (`null-plugin.mjs`); cnm / floor is what cnm
// itself adds, floor / bridge what any remote driver costs before doing anything (dockerd calls a
// plugin seven times in a connect: HTTP round trips its built-in bridge driver does not make).
//
// As root. Re-runs itself under `unshare --net --mount` with a tmpfs on /run (the plugin socket,
// both dockerds' exec roots): dockerd A (cnm's: --iptables=false --bridge=none, cnm owns the
// firewall) in that namespace beside the cnm daemon; dockerd B with Docker's defaults (iptables,
// docker0, the userland proxy) in a network namespace of its own. Both are started by
// `@cnm/bench-peers` (startDockerd, busyboxRootfs). Data in a temporary directory; the machine is
// left as it was.
//
//   pnpm build && node packages/docker-plugin/bench/docker-vs-bridge.mjs
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNS = Number(process.env.BENCH_RUNS ?? 20)
const here = path.dirname(fileURLToPath(import.meta.url))
const CNM = path.join(here, '..', '..', 'cli', 'dist', 'cnm.cjs')
const DOCKER = '/usr/bin/docker'
const RUN = '/run/cnm-docker-bench'
const IMAGE = 'cnm-bench/busybox'

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.error) throw r.error
  if (r.status !== 0 && opts.check !== false) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

function outside() {
  if (process.getuid() !== 0) throw new Error('run as root')
  for (const f of ['/usr/sbin/dockerd', DOCKER, '/bin/busybox', CNM]) {
    if (sh('test', ['-e', f], { check: false }).status !== 0)
      throw new Error(`${f} is missing (scripts/setup.sh, pnpm build)`)
  }
  const r = spawnSync(
    'unshare',
    ['--net', '--mount', '--propagation', 'private', process.execPath, fileURLToPath(import.meta.url)],
    { stdio: 'inherit', env: { ...process.env, CNM_BENCH_INSIDE: '1' } },
  )
  process.exit(r.status ?? 1)
}

async function waitFor(check, what, ms = 90_000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const TICK_MS = 1000 / Number(sh('getconf', ['CLK_TCK']).stdout.trim() || 100)
/** CPU time (user + system) a process has used so far, ms (/proc/PID/stat, clock-tick resolution). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // f[0] is field 3 (state)
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}

/** Milliseconds one command took (it must succeed). */
function time(cmd, args) {
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return ms
}

async function inside() {
  sh('mount', ['-t', 'tmpfs', 'tmpfs', '/run'])
  mkdirSync(`${RUN}`, { recursive: true })
  mkdirSync('/run/docker/plugins', { recursive: true })
  sh('ip', ['link', 'set', 'lo', 'up'])
  const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-docker-bench-'))
  const { busyboxRootfs, startDockerd } = await import('@cnm/bench-peers')
  const children = []
  const dockerds = []
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL')
    for (const d of dockerds) {
      try {
        process.kill(d.pid, 'SIGKILL')
      } catch {}
    }
  })
  try {
    // CNM_BENCH_CPU_PROF=<dir>: the cnm daemon writes a V8 CPU profile there when it stops.
    const prof = process.env.CNM_BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.CNM_BENCH_CPU_PROF] : []
    const cnmd = spawn(
      process.execPath,
      [
        ...prof,
        CNM,
        '--store',
        `${tmp}/cnm.db`,
        '--sandbox-dir',
        `${RUN}/sb`,
        'serve',
        '--socket',
        `${RUN}/cnm.sock`,
        '--docker-plugin',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(cnmd)
    let cnmOut = ''
    cnmd.stdout.on('data', (d) => {
      cnmOut += d
    })
    await waitFor(() => cnmOut.includes('docker plugin on'), 'cnm serve --docker-plugin')
    // The protocol's floor: a plugin named `nullplugin` that answers without doing anything.
    const nullp = spawn(
      process.execPath,
      [path.join(here, 'null-plugin.mjs'), '/run/docker/plugins/nullplugin.sock', '4'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    children.push(nullp)
    let nullOut = ''
    nullp.stdout.on('data', (d) => {
      nullOut += d
    })
    await waitFor(() => nullOut.includes('null plugin on'), 'null-plugin.mjs')
    const [a, b] = await Promise.all([
      startDockerd({
        name: 'dockerd-cnm',
        runDir: RUN,
        dataDir: tmp,
        args: ['--iptables=false', '--ip6tables=false', '--userland-proxy=false', '--bridge=none'],
      }),
      // Docker's defaults, in a network namespace of its own (its iptables rules and docker0 stay there).
      startDockerd({ name: 'dockerd-bridge', runDir: RUN, dataDir: tmp, ownNetns: true }),
    ])
    dockerds.push(a, b)
    const run = (d, ...args) => d.docker(...args)
    const tar = busyboxRootfs(tmp, { tools: ['sh', 'sleep', 'httpd'] })
    for (const d of [a, b]) run(d, 'import', tar, IMAGE)

    // cnm: two cnm networks; Docker: two bridge networks. A running container on the first of each.
    run(a, 'network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.91.0.0/24', 'home')
    run(a, 'network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.91.1.0/24', 'other')
    run(b, 'network', 'create', '--subnet', '10.92.0.0/24', 'home')
    run(b, 'network', 'create', '--subnet', '10.92.1.0/24', 'other')
    for (const d of [a, b]) run(d, 'run', '-d', '--name', 'ctr', '--network', 'home', IMAGE, 'sleep', '100000')
    // The floor, beside cnm's in dockerd A: its own two networks and running container.
    run(a, 'network', 'create', '-d', 'nullplugin', '--ipam-driver', 'nullplugin', '--subnet', '10.93.0.0/24', 'nhome')
    run(a, 'network', 'create', '-d', 'nullplugin', '--ipam-driver', 'nullplugin', '--subnet', '10.93.1.0/24', 'nother')
    run(a, 'run', '-d', '--name', 'nctr', '--network', 'nhome', IMAGE, 'sleep', '100000')
    // Warm both (first-call costs).
    for (const d of [a, b]) {
      run(d, 'network', 'connect', 'other', 'ctr')
      run(d, 'network', 'disconnect', 'other', 'ctr')
      if (d === a) {
        run(a, 'network', 'connect', 'nother', 'nctr')
        run(a, 'network', 'disconnect', 'nother', 'nctr')
      }
      run(d, 'run', '-d', '--name', 'warm', '--network', 'home', '-p', '19999:80', IMAGE, 'httpd', '-f', '-p', '80')
      run(d, 'rm', '-f', 'warm')
    }

    const loadBefore = loadavg()[0]
    const t = { cnm: {}, bridge: {}, floor: {} }
    // CPU time spent by the daemons that do a connect's work: dockerd + cnm serve for cnm, dockerd
    // for Docker's bridge driver. Unlike wall time, it hardly moves with the machine's load.
    const cpu = { cnm: {}, bridge: {}, floor: {}, 'cnm serve': {} }
    const daemons = { cnm: [a.pid, cnmd.pid], bridge: [b.pid], floor: [a.pid, nullp.pid] }
    const cpuNow = (who) => daemons[who].reduce((sum, pid) => sum + cpuMs(pid), 0)
    const timed = (who, op, d, ...args) => {
      const before = cpuNow(who)
      const cnmBefore = cpuMs(cnmd.pid)
      add(who, op, time(...d.cli(...args)))
      cpu[who][op] = (cpu[who][op] ?? 0) + cpuNow(who) - before
      if (who === 'cnm') cpu['cnm serve'][op] = (cpu['cnm serve'][op] ?? 0) + cpuMs(cnmd.pid) - cnmBefore
    }
    const add = (who, op, ms) => {
      t[who][op] ??= []
      t[who][op].push(ms)
    }
    const both = (i, fn) => {
      const pair = [() => fn('cnm', a), () => fn('bridge', b)]
      for (const f of i % 2 ? pair.reverse() : pair) f()
    }
    // Connect and disconnect on three sides, each first in turn: [who, dockerd, network, container].
    const three = [
      ['cnm', a, 'other', 'ctr'],
      ['bridge', b, 'other', 'ctr'],
      ['floor', a, 'nother', 'nctr'],
    ]
    const turn = (i) => [...three.slice(i % 3), ...three.slice(0, i % 3)]
    for (let i = 0; i < RUNS; i++) {
      for (const what of ['connect', 'disconnect'])
        for (const [who, d, net, ctr] of turn(i)) timed(who, `network ${what}`, d, 'network', what, net, ctr)
    }
    for (let i = 0; i < RUNS; i++) {
      const port = String(20000 + i)
      both(i, (who, d) =>
        add(
          who,
          'run -d --network … -p',
          time(
            ...d.cli(
              'run',
              '-d',
              '--name',
              `w${i}`,
              '--network',
              'home',
              '-p',
              `${port}:80`,
              IMAGE,
              'httpd',
              '-f',
              '-p',
              '80',
            ),
          ),
        ),
      )
      both(i, (who, d) => add(who, 'rm -f (that container)', time(...d.cli('rm', '-f', `w${i}`))))
    }

    // The daemons' part: POST /networks/other/(dis)connect on each dockerd's socket, a new
    // connection each time as the docker command opens, timed until the answer's end.
    const api = (d, what, net, ctr) =>
      new Promise((resolve, reject) => {
        const body = JSON.stringify({ Container: ctr })
        const t0 = process.hrtime.bigint()
        const req = request(
          {
            socketPath: d.socket,
            method: 'POST',
            path: `/v1.41/networks/${net}/${what}`,
            headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            agent: false,
          },
          (res) => {
            let text = ''
            res.on('data', (c) => {
              text += c
            })
            res.on('end', () => {
              if (res.statusCode !== 200) reject(new Error(`${what} (${d.name}): ${res.statusCode} ${text}`))
              else resolve(Number(process.hrtime.bigint() - t0) / 1e6)
            })
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    for (let i = 0; i < RUNS; i++) {
      for (const what of ['connect', 'disconnect']) {
        for (const [who, d, net, ctr] of turn(i)) add(who, `API ${what}`, await api(d, what, net, ctr))
      }
    }

    const ops = ['network connect', 'network disconnect', 'run -d --network … -p', 'rm -f (that container)']
    const out = []
    out.push(
      `Node ${process.version}; ${sh(DOCKER, ['--version']).stdout.trim()}; ${RUNS} runs of each, interleaved; medians in ms (wall time of the docker command)`,
    )
    out.push(`load average (1 min) ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)}`)
    out.push('')
    // The floor's column where it ran (connect and disconnect); '–' elsewhere.
    const floorOf = (op, digits) => (t.floor[op] ? median(t.floor[op]).toFixed(digits) : '–')
    const byFloor = (op, c) => (t.floor[op] ? `**${(c / median(t.floor[op])).toFixed(2)}**` : '–')
    const floorByBridge = (op, d) => (t.floor[op] ? (median(t.floor[op]) / d).toFixed(2) : '–')
    out.push(
      "| command | Docker's bridge driver | do-nothing plugin (floor) | cnm (remote driver + IPAM) | floor / bridge | cnm / bridge | cnm / floor |",
    )
    out.push('|---|---|---|---|---|---|---|')
    for (const op of ops) {
      const [d, c] = [median(t.bridge[op]), median(t.cnm[op])]
      out.push(
        `| \`docker ${op}\` | ${d.toFixed(0)} | ${floorOf(op, 0)} | ${c.toFixed(0)} | ${floorByBridge(op, d)} | **${(c / d).toFixed(2)}** | ${byFloor(op, c)} |`,
      )
    }
    out.push('')
    out.push(
      "| Engine API request (no `docker` command) | Docker's bridge driver | do-nothing plugin (floor) | cnm | floor / bridge | cnm / bridge | cnm / floor |",
    )
    out.push('|---|---|---|---|---|---|---|')
    for (const op of ['API connect', 'API disconnect']) {
      const [d, c] = [median(t.bridge[op]), median(t.cnm[op])]
      out.push(
        `| \`POST /networks/…/${op.slice(4)}\` | ${d.toFixed(1)} | ${floorOf(op, 1)} | ${c.toFixed(1)} | ${floorByBridge(op, d)} | **${(c / d).toFixed(2)}** | ${byFloor(op, c)} |`,
      )
    }
    out.push('')
    out.push(
      "| daemons' CPU per command, mean ms | Docker's bridge (dockerd) | floor (dockerd + null plugin) | cnm (dockerd + cnm serve) | of which cnm serve | cnm / bridge |",
    )
    out.push('|---|---|---|---|---|---|')
    for (const op of ['network connect', 'network disconnect']) {
      const [d, f, c] = [cpu.bridge[op] / RUNS, cpu.floor[op] / RUNS, cpu.cnm[op] / RUNS]
      const own = cpu['cnm serve'][op] / RUNS
      out.push(
        `| \`docker ${op}\` | ${d.toFixed(1)} | ${f.toFixed(1)} | ${c.toFixed(1)} | ${own.toFixed(1)} | **${(c / d).toFixed(2)}** |`,
      )
    }
    process.stdout.write(`${out.join('\n')}\n`)
    for (const d of [a, b]) {
      const ids = sh(...d.cli('ps', '-aq'))
        .stdout.split('\n')
        .filter(Boolean)
      if (ids.length > 0) run(d, 'rm', '-f', ...ids)
    }
    run(a, 'network', 'rm', 'home', 'other', 'nhome', 'nother')
  } finally {
    await Promise.all(dockerds.map((d) => d.stop()))
    for (const c of children.reverse()) {
      c.kill('SIGTERM')
      await new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r)))
    }
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.env.CNM_BENCH_INSIDE) await inside()
else outside()

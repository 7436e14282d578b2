#!/usr/bin/env node
// Benchmark (not a test) for issue 14: the `cnm` command through its daemon beside the `docker`
// command through dockerd 20.10 (Debian's docker.io), in the same run, on the same five commands:
// network create, network ls, connect, disconnect, network rm. Medians of BENCH_RUNS (default 20)
// of each, interleaved; the ratio cnm/docker (target ≤ 1.0 each). Then where the time goes: Node's
// own start-up, loading the `cnm` bundle, and each daemon's own time for the same operations
// through its API (Docker Engine API over its socket; cnm's REST API through @cnm/client).
//
// As root. Installs docker.io and busybox-static when missing (apt-get, with a policy-rc.d that
// exits 101 so no service starts), then re-runs itself under `unshare --net --mount` with a tmpfs
// on /run: both daemons, their sockets and state live in that throwaway namespace and a temporary
// directory; the machine is left as it was.
//
//   pnpm build && node packages/cli/bench/daemon-vs-docker.mjs
//
// dockerd runs with its own defaults (iptables on, its docker0 bridge, the userland proxy) except
// for where it keeps its files (--data-root, --exec-root, -H unix://…, --pidfile) and
// --storage-driver vfs (overlayfs does not nest on this machine's root filesystem); it is started,
// and its busybox image made, by `@cnm/bench-peers` (startDockerd, busyboxRootfs).
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const RUNS = Number(process.env.BENCH_RUNS ?? 20)
const here = path.dirname(fileURLToPath(import.meta.url))
const CNM = path.join(here, '..', 'dist', 'cnm.cjs')
const DOCKER = '/usr/bin/docker' // Debian's 20.10 CLI, the daemon's own version
const RUN = '/run/cnm-vs-docker'

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.error) throw r.error
  if (r.status !== 0 && opts.check !== false) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`)
  return r
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function outside() {
  if (process.getuid() !== 0) throw new Error('run as root')
  const missing = ['/usr/sbin/dockerd', DOCKER, '/bin/busybox'].some(
    (f) => sh('test', ['-x', f], { check: false }).status !== 0,
  )
  if (missing) {
    const { aptInstall } = await import('@cnm/bench-peers')
    const r = await aptInstall(['docker.io', 'busybox-static'], (m) => console.error(`bench: ${m}`))
    if (!r.ok) throw new Error(r.reason)
  }
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

/** Milliseconds one run of a program took (it must succeed). */
function time(cmd, args, env) {
  const t = process.hrtime.bigint()
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`)
  return ms
}

/** One JSON request to a daemon's unix socket; resolves with the time it took. */
function http(socketPath, method, urlPath, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  const t = process.hrtime.bigint()
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, method, path: urlPath, headers: payload ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`))
          else resolve(Number(process.hrtime.bigint() - t) / 1e6)
        })
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function waitFor(check, what, ms = 60_000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function inside() {
  sh('mount', ['-t', 'tmpfs', 'tmpfs', '/run'])
  mkdirSync(RUN, { recursive: true })
  sh('ip', ['link', 'set', 'lo', 'up'])
  const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-vs-docker-'))
  const { busyboxRootfs, startDockerd } = await import('@cnm/bench-peers')
  const dockerSock = `${RUN}/docker.sock`
  const cnmSock = `${RUN}/cnm.sock`
  const dockerEnv = { DOCKER_HOST: `unix://${dockerSock}` }
  const cnmEnv = { CNM_HOST: `unix://${cnmSock}` }
  const children = []
  let dockerd
  const cleanup = () => {
    for (const c of children) c.kill('SIGTERM')
    if (dockerd) {
      try {
        process.kill(dockerd.pid, 'SIGTERM')
      } catch {}
    }
  }
  process.on('exit', cleanup)
  try {
    // Its socket is `${RUN}/docker.sock`, its data root `${tmp}/docker`.
    dockerd = await startDockerd({ name: 'docker', runDir: RUN, dataDir: tmp })
    const cnmd = spawn(
      process.execPath,
      [
        CNM,
        '--store',
        `${tmp}/cnm.db`,
        '--sandbox-dir',
        `${RUN}/sb`,
        'serve',
        '--socket',
        cnmSock,
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    children.push(cnmd)
    await waitFor(() => sh('test', ['-S', cnmSock], { check: false }).status === 0, 'cnm serve')
    const docker = (...args) => sh(DOCKER, args, { env: { ...process.env, ...dockerEnv } })
    const cnm = (...args) => sh(CNM, args, { env: { ...process.env, ...cnmEnv } })

    // A running container and a sandbox to connect and disconnect.
    docker('import', busyboxRootfs(tmp), 'cnm-bench/busybox')
    docker('network', 'create', '--subnet', '10.9.0.0/24', 'dk-home')
    docker('run', '-d', '--name', 'bench-ctr', '--network', 'dk-home', 'cnm-bench/busybox', 'sleep', '100000')
    cnm('sandbox', 'create', 'bench-sb')
    // Warm both up (first-call costs: the bridge driver, the firewall, Docker's IPAM).
    docker('network', 'create', '--subnet', '10.9.1.0/24', 'dk-warm')
    docker('network', 'rm', 'dk-warm')
    cnm('network', 'create', '--subnet', '10.9.2.0/24', 'cn-warm')
    cnm('network', 'rm', 'cn-warm')

    const t = { docker: {}, cnm: {}, 'cnm (node dist/cnm.cjs: no launcher)': {} }
    const add = (who, op, ms) => {
      t[who][op] ??= []
      t[who][op].push(ms)
    }
    const both = (op, dockerArgs, cnmArgs, i) => {
      const pair = [
        () => add('docker', op, time(DOCKER, dockerArgs, dockerEnv)),
        () => add('cnm', op, time(CNM, cnmArgs, cnmEnv)),
      ]
      for (const f of i % 2 ? pair.reverse() : pair) f()
    }
    // Subnets given on both sides (the automatic pools of two daemons in one namespace run out).
    for (let i = 0; i < RUNS; i++) {
      const dk = ['network', 'create', '--subnet', `10.1.${i}.0/24`, `dk${i}`]
      both('network create', dk, ['network', 'create', '--subnet', `10.2.${i}.0/24`, `cn${i}`], i)
    }
    for (let i = 0; i < RUNS; i++) both('network ls', ['network', 'ls'], ['network', 'ls'], i)
    for (let i = 0; i < RUNS; i++) {
      both('connect', ['network', 'connect', 'dk0', 'bench-ctr'], ['connect', 'cn0', 'bench-sb'], i)
      both('disconnect', ['network', 'disconnect', 'dk0', 'bench-ctr'], ['disconnect', 'cn0', 'bench-sb'], i)
    }
    for (let i = 0; i < RUNS; i++) both('network rm', ['network', 'rm', `dk${i}`], ['network', 'rm', `cn${i}`], i)
    // The same commands with Node started by hand (`node dist/cnm.cjs`): the launcher's
    // `env -u NODE_EXTRA_CA_CERTS` does not apply.
    const plain = (op, args) =>
      add('cnm (node dist/cnm.cjs: no launcher)', op, time(process.execPath, [CNM, ...args], cnmEnv))
    for (let i = 0; i < RUNS; i++)
      plain('network create', ['network', 'create', '--subnet', `10.3.${i}.0/24`, `pn${i}`])
    for (let i = 0; i < RUNS; i++) plain('network ls', ['network', 'ls'])
    for (let i = 0; i < RUNS; i++) {
      plain('connect', ['connect', 'pn0', 'bench-sb'])
      plain('disconnect', ['disconnect', 'pn0', 'bench-sb'])
    }
    for (let i = 0; i < RUNS; i++) plain('network rm', ['network', 'rm', `pn${i}`])

    // Where the time goes.
    const parts = {}
    const part = (name, fn) => {
      parts[name] = []
      for (let i = 0; i < RUNS; i++) parts[name].push(fn())
    }
    part('node -e 0', () => time(process.execPath, ['-e', '0']))
    part('node -e 0, NODE_EXTRA_CA_CERTS unset', () =>
      time('env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']),
    )
    part('cnm --version (the launcher, Node, the bundle, commander; no request)', () => time(CNM, ['--version']))
    part('docker --version (the CLI alone)', () => time(DOCKER, ['--version']))
    const api = { 'cnm REST API': {}, 'Docker Engine API': {} }
    const apiAdd = (who, op, ms) => {
      api[who][op] ??= []
      api[who][op].push(ms)
    }
    const dockerCtr = JSON.parse(docker('inspect', 'bench-ctr').stdout)[0].Id
    for (let i = 0; i < RUNS; i++) {
      apiAdd(
        'Docker Engine API',
        'network create',
        await http(dockerSock, 'POST', '/v1.41/networks/create', {
          Name: `da${i}`,
          IPAM: { Config: [{ Subnet: `10.4.${i}.0/24` }] },
        }),
      )
      const body = { name: `ca${i}`, subnet: `10.5.${i}.0/24` }
      apiAdd('cnm REST API', 'network create', await http(cnmSock, 'POST', '/v1/networks', body))
    }
    for (let i = 0; i < RUNS; i++) {
      apiAdd('Docker Engine API', 'network ls', await http(dockerSock, 'GET', '/v1.41/networks'))
      apiAdd('cnm REST API', 'network ls', await http(cnmSock, 'GET', '/v1/networks'))
    }
    for (let i = 0; i < RUNS; i++) {
      apiAdd(
        'Docker Engine API',
        'connect',
        await http(dockerSock, 'POST', '/v1.41/networks/da0/connect', { Container: dockerCtr }),
      )
      apiAdd(
        'cnm REST API',
        'connect',
        await http(cnmSock, 'POST', '/v1/networks/ca0/connect', { sandbox: 'bench-sb' }),
      )
      apiAdd(
        'Docker Engine API',
        'disconnect',
        await http(dockerSock, 'POST', '/v1.41/networks/da0/disconnect', { Container: dockerCtr }),
      )
      apiAdd(
        'cnm REST API',
        'disconnect',
        await http(cnmSock, 'POST', '/v1/networks/ca0/disconnect', { sandbox: 'bench-sb' }),
      )
    }
    for (let i = 0; i < RUNS; i++) {
      apiAdd('Docker Engine API', 'network rm', await http(dockerSock, 'DELETE', `/v1.41/networks/da${i}`))
      apiAdd('cnm REST API', 'network rm', await http(cnmSock, 'DELETE', `/v1/networks/ca${i}`))
    }

    const ops = ['network create', 'network ls', 'connect', 'disconnect', 'network rm']
    const m = (xs) => (xs ? median(xs) : Number.NaN)
    const out = []
    out.push(
      `Node ${process.version}; ${sh(DOCKER, ['--version']).stdout.trim()} (CLI and daemon); ${RUNS} runs of each, interleaved; medians in ms`,
    )
    out.push(`NODE_EXTRA_CA_CERTS is ${process.env.NODE_EXTRA_CA_CERTS ? 'set' : 'not set'} in this environment`)
    out.push('')
    out.push('| command | `docker` | `cnm` | cnm / docker | `node dist/cnm.cjs` | / docker |')
    out.push('|---|---|---|---|---|---|')
    for (const op of ops) {
      const [d, c, p] = [m(t.docker[op]), m(t.cnm[op]), m(t['cnm (node dist/cnm.cjs: no launcher)'][op])]
      out.push(
        `| ${op} | ${d.toFixed(1)} | ${c.toFixed(1)} | **${(c / d).toFixed(2)}** | ${p.toFixed(1)} | ${(p / d).toFixed(2)} |`,
      )
    }
    out.push('')
    out.push('Where the time goes (medians, ms):')
    out.push('')
    out.push('| part | ms |')
    out.push('|---|---|')
    for (const [name, xs] of Object.entries(parts)) out.push(`| ${name} | ${m(xs).toFixed(1)} |`)
    out.push('')
    out.push('| operation through the daemon API alone | Docker Engine API | cnm REST API |')
    out.push('|---|---|---|')
    for (const op of ops) {
      out.push(`| ${op} | ${m(api['Docker Engine API'][op]).toFixed(1)} | ${m(api['cnm REST API'][op]).toFixed(1)} |`)
    }
    console.log(out.join('\n'))
    writeFileSync(path.join(tmpdir(), 'cnm-vs-docker.json'), JSON.stringify({ t, parts, api }, null, 2))

    docker('rm', '-f', 'bench-ctr')
    cnm('sandbox', 'rm', 'bench-sb')
  } finally {
    // Both daemons stop (dockerd unmounts what it mounted in its data root), then the files go.
    await Promise.all([
      dockerd?.stop(),
      ...children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.exitCode !== null) return resolve()
            const kill = setTimeout(() => c.kill('SIGKILL'), 30_000)
            c.once('exit', () => {
              clearTimeout(kill)
              resolve()
            })
            c.kill('SIGTERM')
          }),
      ),
    ])
    const mounted = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m?.startsWith(tmp))
      .reverse()
    for (const m of mounted) sh('umount', ['-l', m], { check: false })
    try {
      rmSync(tmp, { recursive: true, force: true })
    } catch (err) {
      console.error(`bench: could not remove ${tmp}: ${err.message}`)
    }
  }
}

if (process.env.CNM_BENCH_INSIDE === '1') await inside()
else await outside()

#!/usr/bin/env node
// The `cnm` command in process (no daemon, `--store`): `cnm connect NET BOX -p PORT:80` and
// `cnm disconnect`, one process per command, as a shell user runs them (issue 13: 709 ms against
// 260 ms before the driver-contract redesign). Measures each command's CPU time (user + system,
// from /proc: the wall time is meaningless on a shared 2-core machine) and wall time, beside, in
// the same run:
//   - `node -e 0`: Node's own start-up, the floor;
//   - "before": the same command with the modules it loaded before the fix preloaded (the whole
//     `netlink` package through its index, with its nl80211/genl/WireGuard codecs, and
//     `dns-packet`), so the ratio is the fix's effect under the same load.
// Runs as root in a network namespace of its own (everything it makes is gone with it).
//
//   pnpm exec turbo run build --filter @cnm/cli... && node packages/cli/bench/inprocess-connect.mjs
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { loadavg, tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { CLONE_NEWNET, ensureThreadPool, openHandle, unshare } from '@cnm/netlink'

const RUNS = Number(process.env.BENCH_RUNS ?? 8)
const bin = fileURLToPath(new URL('../dist/cnm.cjs', import.meta.url))
const fromPkg = (pkg, id) =>
  createRequire(fileURLToPath(new URL(`../../${pkg}/package.json`, import.meta.url))).resolve(id)
const BEFORE = ['--require', fromPkg('netlink', 'netlink'), '--require', fromPkg('dns', 'dns-packet')]

/** CPU time (ms) of this process's waited-for children so far (cutime + cstime, /proc/self/stat). */
function childCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100 // USER_HZ is 100 on Linux
}

function timed(args) {
  const cpu0 = childCpuMs()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' })
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`)
  return { cpu: childCpuMs() - cpu0, wall }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

await ensureThreadPool()
unshare(CLONE_NEWNET)
const h = await openHandle()
await h.setLinkUp('lo')
h.close()
const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-inproc-'))
const sandboxDir = path.join(tmp, 'sb')
mkdirSync(sandboxDir, { mode: 0o700 })
const cnm = (pre, ...args) =>
  timed([...pre, bin, '--store', path.join(tmp, 'cnm.db'), '--sandbox-dir', sandboxDir, ...args])

const load = loadavg()[0]
cnm([], 'network', 'create', '--subnet', '10.211.0.0/16', 'bench')
const rows = { floor: [], after: { connect: [], disconnect: [] }, before: { connect: [], disconnect: [] } }
for (let i = 0; i < RUNS; i++) {
  // Interleaved: the two variants and the floor see the same load.
  rows.floor.push(timed(['-e', '0']))
  for (const [variant, pre] of [
    ['after', []],
    ['before', BEFORE],
  ]) {
    const box = `${variant}${i}`
    cnm([], 'sandbox', 'create', box)
    rows[variant].connect.push(
      cnm(pre, 'connect', 'bench', box, '-p', `${25000 + i * 2 + (variant === 'after' ? 0 : 1)}:80`),
    )
    rows[variant].disconnect.push(cnm(pre, 'disconnect', 'bench', box))
    cnm([], 'sandbox', 'rm', box)
  }
}
cnm([], 'network', 'rm', 'bench')
rmSync(tmp, { recursive: true, force: true })

const m = (xs, k) => median(xs.map((x) => x[k]))
console.log(`cnm in process, ${RUNS} runs each, medians (load average at start ${load.toFixed(1)})`)
console.log('                          CPU ms   wall ms')
console.log(
  `node -e 0              ${m(rows.floor, 'cpu').toFixed(0).padStart(8)} ${m(rows.floor, 'wall').toFixed(0).padStart(9)}`,
)
for (const v of ['before', 'after']) {
  for (const c of ['connect', 'disconnect']) {
    console.log(
      `${`${c} (${v})`.padEnd(22)} ${m(rows[v][c], 'cpu').toFixed(0).padStart(8)} ${m(rows[v][c], 'wall').toFixed(0).padStart(9)}`,
    )
  }
}
for (const c of ['connect', 'disconnect']) {
  const before = m(rows.before[c], 'cpu')
  const after = m(rows.after[c], 'cpu')
  const floor = m(rows.floor, 'cpu')
  console.log(
    `${c}: CPU before/after ${(before / after).toFixed(2)}x; above Node's start-up: ${(before - floor).toFixed(0)} -> ${(after - floor).toFixed(0)} ms`,
  )
}

// The cost of anti-spoofing (issue 21): what one forwarded datagram costs with the `antispoof`
// chain (nftables: `iifname @bridges fib saddr . iif oif missing drop`; iptables: `-m rpfilter`)
// against the same rules with that chain emptied, alternating in one run. Everything lives in
// throwaway namespaces (a "host" with a cnm bridge network, a container on it, and another machine
// behind a veth), removed at the end. Root; build first:
//
//   pnpm --filter @cnm/firewall build && node packages/firewall/bench/antispoof.mjs
//   BACKEND=iptables PACKETS=100000 ROUNDS=6 node packages/firewall/bench/antispoof.mjs
//
// The container's sender blasts small UDP datagrams through the host to the other machine. veth
// delivery, the bridge, the host's prerouting/forward/postrouting hooks and the other veth all run
// in the sender's own system call (softirq in process context), so the sender's system CPU time
// per datagram (getrusage) is the path's cost, the rule included; the receiver's count checks that
// they arrived. The ratio is with/without; 1.00 means the rule costs nothing measurable.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const BACKEND = process.env.BACKEND ?? 'nftables'
const PACKETS = Number(process.env.PACKETS ?? 200_000)
const ROUNDS = Number(process.env.ROUNDS ?? 6)
const tag = `${process.pid}`
const H = `s-bh-${tag}`
const C = `s-bc-${tag}`
const X = `s-bx-${tag}`

const sh = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.status}`)
  return r
}
const inNs = (ns, cmd, args, opts) => sh('ip', ['netns', 'exec', ns, cmd, ...args], opts)

if (process.env.CNM_BENCH_INSIDE !== '1') {
  // Set up the namespaces, then run the measuring half inside the "host" one.
  const cleanup = () => {
    for (const ns of [C, X, H]) sh('ip', ['netns', 'del', ns], { allowFail: true })
  }
  try {
    for (const ns of [H, C, X]) {
      sh('ip', ['netns', 'add', ns])
      inNs(ns, 'ip', ['link', 'set', 'lo', 'up'])
    }
    inNs(H, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    inNs(H, 'ip', ['link', 'add', 'br-bench', 'type', 'bridge'])
    inNs(H, 'ip', ['addr', 'add', '10.99.1.1/24', 'dev', 'br-bench'])
    inNs(H, 'ip', ['link', 'set', 'br-bench', 'up'])
    inNs(H, 'ip', ['link', 'add', 'vc', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', C])
    inNs(H, 'ip', ['link', 'set', 'vc', 'master', 'br-bench', 'up'])
    inNs(C, 'ip', ['addr', 'add', '10.99.1.2/24', 'dev', 'eth0'])
    inNs(C, 'ip', ['link', 'set', 'eth0', 'up'])
    inNs(C, 'ip', ['route', 'add', 'default', 'via', '10.99.1.1'])
    inNs(H, 'ip', ['link', 'add', 'vx', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', X])
    inNs(H, 'ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'vx'])
    inNs(H, 'ip', ['link', 'set', 'vx', 'up'])
    inNs(X, 'ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'eth0'])
    inNs(X, 'ip', ['link', 'set', 'eth0', 'up'])
    const r = spawnSync('ip', ['netns', 'exec', H, process.execPath, fileURLToPath(import.meta.url)], {
      stdio: 'inherit',
      env: { ...process.env, CNM_BENCH_INSIDE: '1', CNM_BENCH_C: C, CNM_BENCH_X: X },
    })
    process.exitCode = r.status ?? 1
  } finally {
    cleanup()
  }
} else {
  const { createFirewall } = await import('../dist/index.js')
  const C = process.env.CNM_BENCH_C
  const X = process.env.CNM_BENCH_X
  const fw = await createFirewall({ backend: BACKEND })
  await fw.addNetwork({ id: 'bench', bridge: 'br-bench', subnets: ['10.99.1.0/24'] })
  const SENDER = `
import resource, socket, sys
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(('198.51.100.2', 9999))
payload = b'x' * 32
r0 = resource.getrusage(resource.RUSAGE_SELF)
for _ in range(n):
    try:
        s.send(payload)
    except OSError:
        pass
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_stime - r0.ru_stime)
`
  const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 24)
s.bind(('0.0.0.0', 9999))
n = 0
print('ready', flush=True)
s.settimeout(30.0)
try:
    while True:
        s.recv(2048)
        n += 1
        s.settimeout(2.0)
except socket.timeout:
    pass
print(n, flush=True)
`
  const { spawn } = await import('node:child_process')
  const round = async () => {
    const rx = spawn('ip', ['netns', 'exec', X, 'python3', '-c', RECEIVER], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    rx.stdout.on('data', (d) => {
      out += d
    })
    while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20))
    const tx = sh('ip', ['netns', 'exec', C, 'python3', '-c', SENDER, String(PACKETS)])
    await new Promise((r) => rx.once('exit', r))
    const received = Number(out.split('\n')[1])
    return { usPerPacket: (Number(tx.stdout.trim()) * 1e6) / PACKETS, received }
  }
  const antispoof = (on) => {
    if (BACKEND === 'nftables') {
      if (on)
        return fw.repair({ networks: [{ id: 'bench', bridge: 'br-bench', subnets: ['10.99.1.0/24'] }], ports: [] })
      return sh('nft', ['flush', 'chain', 'inet', 'cnm', 'antispoof'])
    }
    if (on) return fw.repair({ networks: [{ id: 'bench', bridge: 'br-bench', subnets: ['10.99.1.0/24'] }], ports: [] })
    return sh('iptables', ['-t', 'raw', '-F', 'CNM-PREROUTING'])
  }
  const results = { with: [], without: [] }
  try {
    await round() // warm-up
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of i % 2 === 0 ? ['with', 'without'] : ['without', 'with']) {
        await antispoof(mode === 'with')
        const r = await round()
        results[mode].push(r)
        console.error(`round ${i} ${mode}: ${r.usPerPacket.toFixed(3)} us/packet, received ${r.received}/${PACKETS}`)
      }
    }
  } finally {
    await fw.flush()
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const w = median(results.with.map((r) => r.usPerPacket))
  const wo = median(results.without.map((r) => r.usPerPacket))
  const load = (await import('node:os')).loadavg()[0].toFixed(1)
  console.log(
    `antispoof (${BACKEND}): sender system CPU per forwarded datagram, median of ${ROUNDS}: with ${w.toFixed(3)} us, without ${wo.toFixed(3)} us, ratio ${(w / wo).toFixed(2)} (load average ${load})`,
  )
}

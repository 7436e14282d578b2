// The peers that the bridge-driver benchmark compares against (issue 7, last Proof bullet):
//
//   - the CNI reference plugins from Debian's `containernetworking-plugins`, run as a conflist
//     chain `bridge` (+ `host-local` IPAM, which the bridge plugin calls itself) -> `portmap`,
//     exactly as a runtime runs them: CNI_* environment, config JSON on stdin, prevResult passed
//     down the chain on ADD, DEL in reverse order with the cached result;
//   - netavark from Debian's `netavark`, `netavark setup|teardown <nsPath>` with its JSON network
//     options on stdin, forced onto its iptables firewall driver.
//
// Plain ES module, Node built-ins only. Every process is spawned with an argument array (never a
// shell). Everything a peer does lands in the network namespace of the calling thread, so the
// caller is expected to have moved into a throwaway namespace first (see peers-demo.mjs), with one
// exception: ensurePeersInstalled() runs apt-get and so must run before that move, while the
// process still has the machine's network.
//
// Each peer object: { name, attach(i, nsPath), detach(i, nsPath), cleanup() }, plus a few
// read-only helpers (hostPort(i), addressOf(i), gateway, ...) that a benchmark uses to verify.

import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { accessSync, constants, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** Where Debian (and other distributions) put the CNI plugins; the first with all three wins. */
export const CNI_PLUGIN_DIRS = ['/usr/lib/cni', '/usr/libexec/cni', '/opt/cni/bin']
/** Where Debian (and others) put netavark; it is not on PATH in Debian's package. */
export const NETAVARK_PATHS = [
  '/usr/lib/podman/netavark',
  '/usr/libexec/podman/netavark',
  '/usr/local/libexec/podman/netavark',
]

const CNI_PLUGINS = ['bridge', 'host-local', 'portmap']
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']
const CHILD_PATH = [...new Set([...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN_DIRS])].join(':')
const DEFAULT_TIMEOUT_MS = 60_000

// ---------------------------------------------------------------------------------------------
// processes

/**
 * Runs `file` with `args` (no shell), feeding `input` on stdin. Resolves { code, stdout, stderr };
 * rejects on a non-zero exit unless `allowFail`, on a spawn error, or after `timeoutMs` (the
 * child, and only it, is killed).
 */
function run(file, args = [], { env, input, allowFail = false, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: env ?? childEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
    const out = []
    const errOut = []
    let settled = false
    const timer = setTimeout(() => {
      if (settled) return
      settled = true
      child.kill('SIGKILL')
      reject(new Error(`${file} ${args.join(' ')}: timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => errOut.push(d))
    child.stdin.on('error', () => {}) // EPIPE when the child exits without reading
    child.on('error', (err) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      const res = {
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(errOut).toString(),
      }
      if (res.code !== 0 && !allowFail) {
        const detail = (res.stderr.trim() || res.stdout.trim()).slice(-2000)
        const err = new Error(`${path.basename(file)} ${args.join(' ')} exited ${signal ?? res.code}: ${detail}`)
        Object.assign(err, res)
        reject(err)
        return
      }
      resolve(res)
    })
    child.stdin.end(input ?? '')
  })
}

function childEnv(extra = {}) {
  return { ...process.env, PATH: CHILD_PATH, ...extra }
}

function isExecutable(p) {
  try {
    accessSync(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function which(name) {
  for (const dir of CHILD_PATH.split(':')) {
    const p = path.join(dir, name)
    if (isExecutable(p)) return p
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// installation

function findCniPluginDir(preferred) {
  const dirs = preferred ? [preferred, ...CNI_PLUGIN_DIRS] : CNI_PLUGIN_DIRS
  return dirs.find((d) => CNI_PLUGINS.every((p) => isExecutable(path.join(d, p))))
}

function findNetavark(preferred) {
  const candidates = preferred ? [preferred, ...NETAVARK_PATHS] : NETAVARK_PATHS
  return candidates.find(isExecutable) ?? which('netavark')
}

async function debVersion(pkg) {
  if (!which('dpkg-query')) return undefined
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${field} format syntax
  const r = await run(which('dpkg-query'), ['-W', '-f=${Version}', pkg], { allowFail: true })
  return r.code === 0 && r.stdout ? r.stdout.trim() : undefined
}

async function detectPeers() {
  const pluginDir = findCniPluginDir()
  const netavark = findNetavark()
  const iptables = which('iptables')
  const ip = which('ip')
  const missingTools = [!iptables && 'iptables', !ip && 'ip (iproute2)'].filter(Boolean)
  const toolReason = missingTools.length ? `${missingTools.join(' and ')} not found` : undefined
  const cni = pluginDir
    ? { available: !toolReason, pluginDir, version: await debVersion('containernetworking-plugins') }
    : { available: false, reason: `CNI plugins ${CNI_PLUGINS.join(', ')} not found in ${CNI_PLUGIN_DIRS.join(', ')}` }
  if (pluginDir && toolReason) cni.reason = toolReason
  const nv = netavark
    ? { available: !toolReason, binary: netavark, version: await debVersion('netavark') }
    : { available: false, reason: `netavark not found in ${NETAVARK_PATHS.join(', ')} or on PATH` }
  if (netavark && toolReason) nv.reason = toolReason
  return { cni, netavark: nv }
}

/**
 * Makes sure both peers are installed from Debian's packages: when one is missing, runs
 * `apt-get update` and then `apt-get install -y` of the missing packages (never when nothing is
 * missing). Must run while the process still has the machine's network, i.e. before unshare().
 *
 * @param {{ install?: boolean, log?: (msg: string) => void }} [options]
 * @returns {Promise<{ cni: { available: boolean, reason?: string, pluginDir?: string, version?: string },
 *                     netavark: { available: boolean, reason?: string, binary?: string, version?: string } }>}
 */
export async function ensurePeersInstalled({ install = true, log = () => {} } = {}) {
  let found = await detectPeers()
  const wanted = []
  if (!findCniPluginDir()) wanted.push('containernetworking-plugins')
  if (!findNetavark()) wanted.push('netavark')
  if (!which('iptables')) wanted.push('iptables')
  if (!which('ip')) wanted.push('iproute2')
  if (wanted.length === 0 || !install) return found

  const aptGet = which('apt-get')
  let failure
  if (!aptGet) failure = 'apt-get not found (not a Debian system?)'
  else if (typeof process.getuid === 'function' && process.getuid() !== 0) failure = 'not root: cannot apt-get install'
  else {
    const env = childEnv({ DEBIAN_FRONTEND: 'noninteractive' })
    log(`apt-get update`)
    const upd = await run(aptGet, ['update'], { env, allowFail: true, timeoutMs: 600_000 })
    if (upd.code !== 0) log(`apt-get update failed (${upd.code}); trying the install anyway`)
    log(`apt-get install -y ${wanted.join(' ')}`)
    const inst = await run(aptGet, ['install', '-y', ...wanted], { env, allowFail: true, timeoutMs: 600_000 })
    if (inst.code !== 0)
      failure = `apt-get install ${wanted.join(' ')} failed: ${inst.stderr.trim().split('\n').slice(-3).join(' | ')}`
  }
  found = await detectPeers()
  for (const peer of [found.cni, found.netavark]) {
    if (!peer.available && failure) peer.reason = `${peer.reason}; ${failure}`
  }
  return found
}

// ---------------------------------------------------------------------------------------------
// small helpers shared by both peers

function ipv4ToInt(s) {
  const parts = s.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`bad IPv4 address ${s}`)
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

function intToIpv4(n) {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** { network, prefix, gateway, hostAt(k) }: gateway = first host address; hostAt(0) = the next one. */
function parseSubnet(cidr) {
  const [addr, len] = cidr.split('/')
  const prefix = Number(len)
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) throw new Error(`subnet ${cidr}: prefix must be 8..30`)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (ipv4ToInt(addr) & mask) >>> 0
  if (network !== ipv4ToInt(addr)) throw new Error(`subnet ${cidr} has host bits set`)
  const size = 2 ** (32 - prefix)
  return {
    cidr,
    prefix,
    gateway: intToIpv4(network + 1),
    /** True when `addr/len` lies inside this subnet. */
    containsCidr(addr, len) {
      return len >= prefix && (ipv4ToInt(addr) & mask) >>> 0 === network
    },
    hostAt(k) {
      if (!Number.isInteger(k) || k < 0 || k + 2 >= size - 1)
        throw new Error(`container index ${k} does not fit in ${cidr}`)
      return intToIpv4(network + 2 + k)
    },
  }
}

function hexId(...parts) {
  return createHash('sha256').update(parts.join('\0')).digest('hex')
}

/** A private temp dir path, created on first use (a peer that never attaches leaves no file). */
function lazyStateDir(prefix) {
  const dir = path.join(tmpdir(), `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`)
  let made = false
  return {
    path: dir,
    ensure() {
      if (!made) mkdirSync(dir, { mode: 0o700 })
      made = true
      return dir
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function checkIndex(i) {
  if (!Number.isInteger(i) || i < 0) throw new TypeError(`container index must be a non-negative integer, got ${i}`)
}

function checkHostPort(p) {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`host port ${p} out of range`)
  return p
}

async function linkExists(name) {
  const r = await run(which('ip') ?? 'ip', ['link', 'show', 'dev', name], { allowFail: true })
  return r.code === 0
}

/** Deletes `bridge` and any port still enslaved to it (veths whose container side is gone or not). */
async function removeBridge(bridge, errors) {
  const ip = which('ip') ?? 'ip'
  if (!(await linkExists(bridge))) return
  const ports = await run(ip, ['-j', 'link', 'show', 'master', bridge], { allowFail: true })
  if (ports.code === 0 && ports.stdout.trim()) {
    for (const l of JSON.parse(ports.stdout)) {
      const r = await run(ip, ['link', 'del', 'dev', l.ifname], { allowFail: true })
      if (r.code !== 0 && (await linkExists(l.ifname))) errors.push(`ip link del ${l.ifname}: ${r.stderr.trim()}`)
    }
  }
  const r = await run(ip, ['link', 'del', 'dev', bridge], { allowFail: true })
  if (r.code !== 0 && (await linkExists(bridge))) errors.push(`ip link del ${bridge}: ${r.stderr.trim()}`)
}

// ---------------------------------------------------------------------------------------------
// firewall bookkeeping: what a peer created, so cleanup() removes exactly that

const FAMILIES = [
  { save: 'iptables-save', restore: 'iptables-restore', nft: 'ip' },
  { save: 'ip6tables-save', restore: 'ip6tables-restore', nft: 'ip6' },
]

/** Parses iptables-save output: Map(table -> { chains: Map(name -> policy), rules: [{ chain, spec, target }] }). */
function parseSave(text) {
  const tables = new Map()
  let cur
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      cur = { chains: new Map(), rules: [] }
      tables.set(line.slice(1).trim(), cur)
    } else if (!cur || line.startsWith('#') || line === 'COMMIT' || !line.trim()) {
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ')
      cur.chains.set(name, policy)
    } else if (line.startsWith('-A ')) {
      const rest = line.slice(3)
      const sp = rest.indexOf(' ')
      const chain = sp < 0 ? rest : rest.slice(0, sp)
      const spec = sp < 0 ? '' : rest.slice(sp + 1)
      const padded = ` ${spec}`
      const m = / -[jg] (\S+)/.exec(padded)
      cur.rules.push({ chain, spec, target: m?.[1] })
    }
  }
  return tables
}

async function saveFamily(fam) {
  const bin = which(fam.save)
  if (!bin) return undefined
  const r = await run(bin, [], { allowFail: true })
  return r.code === 0 ? parseSave(r.stdout) : undefined
}

async function nftTables() {
  const nft = which('nft')
  if (!nft) return undefined
  const r = await run(nft, ['list', 'tables'], { allowFail: true })
  if (r.code !== 0) return undefined
  return new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('table '))
      .map((l) => l.slice(6)),
  )
}

async function iptablesIsNft() {
  const bin = which('iptables')
  if (!bin) return false
  const r = await run(bin, ['-V'], { allowFail: true })
  return /nf_tables/.test(r.stdout)
}

/** Records which nftables tables exist before the peer does anything (iptables-nft makes them on first use). */
async function firewallSnapshot() {
  return { nftTables: (await nftTables()) ?? new Set() }
}

const IPV4_ARG =
  /(!\s+)?(?:-s|-d|--source|--destination|--to-destination|--to-source)\s+(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g

/** True when an iptables rule belongs to this peer: its comment names the network, or it matches/NATs an address inside the subnet. */
function ruleIsOurs(spec, owner) {
  if (spec.includes(owner.nameMarker)) return true
  for (const m of spec.matchAll(IPV4_ARG)) {
    if (m[1]) continue // negated (`! -d 224.0.0.0/4`)
    if (owner.net.containsCidr(m[2], m[3] === undefined ? 32 : Number(m[3]))) return true
  }
  return false
}

/**
 * Removes, in the calling thread's namespace, what this peer left in iptables, by content rather
 * than by a before/after picture (several peers may be created before any of them acts):
 *   - rules that are ours (see ruleIsOurs) wherever they are, and every rule jumping to a chain of ours;
 *   - the peer's own chains (`prefix` chains other than the shared ones) that an own rule jumps to
 *     or that hold an own rule, and the chains they jump to in turn;
 *   - per table, the shared chains (`isShared`: the HOSTPORT chains, NETAVARK_FORWARD) all
 *     together, but only when nothing else uses them any more: after the deletions above they hold
 *     only address-free rules that jump nowhere but built-in targets, and no other user chain
 *     jumps to them.
 * Then drops the nftables tables that iptables-nft created and that are empty again, when they did
 * not exist before the peer was created.
 */
async function firewallCleanup(owner, snapshot, errors) {
  const { prefix, isShared } = owner
  const nftBackend = await iptablesIsNft()
  for (const fam of FAMILIES) {
    const restore = which(fam.restore)
    const tables = await saveFamily(fam)
    if (!tables || !restore) continue
    for (const [table, t] of tables) {
      const isUser = (c) => t.chains.has(c) && t.chains.get(c) === '-'
      const prefixed = new Set([...t.chains.keys()].filter((c) => isUser(c) && c.startsWith(prefix)))
      const shared = new Set([...prefixed].filter(isShared))
      const own = (c) => c !== undefined && prefixed.has(c) && !shared.has(c)
      const ours = new Set()
      for (const r of t.rules) {
        if (!ruleIsOurs(r.spec, owner)) continue
        if (own(r.target)) ours.add(r.target)
        if (own(r.chain)) ours.add(r.chain)
      }
      for (let grew = true; grew; ) {
        grew = false
        for (const r of t.rules) {
          if (ours.has(r.chain) && own(r.target) && !ours.has(r.target)) {
            ours.add(r.target)
            grew = true
          }
        }
      }
      const ownDelete = (r) => !ours.has(r.chain) && (ruleIsOurs(r.spec, owner) || ours.has(r.target))
      const remaining = t.rules.filter((r) => !ours.has(r.chain) && !ownDelete(r))
      const isBaseRule = (r) => !/\d+\.\d+\.\d+\.\d+/.test(r.spec) && !own(r.target)
      const sharedFree =
        shared.size > 0 &&
        remaining.every((r) => !shared.has(r.chain) || isBaseRule(r)) &&
        !remaining.some((r) => isUser(r.chain) && !shared.has(r.chain) && shared.has(r.target))
      const drop = new Set([...ours, ...(sharedFree ? shared : [])])
      const dels = t.rules.filter((r) => !drop.has(r.chain) && (ownDelete(r) || drop.has(r.target)))
      if (drop.size === 0 && dels.length === 0) continue
      const input = [
        `*${table}`,
        ...dels.map((r) => `-D ${r.chain} ${r.spec}`),
        ...[...drop].map((c) => `-F ${c}`),
        ...[...drop].map((c) => `-X ${c}`),
        'COMMIT',
        '',
      ].join('\n')
      const r = await run(restore, ['-w', '--noflush'], { input, allowFail: true })
      if (r.code !== 0) errors.push(`${fam.restore} (${table}): ${r.stderr.trim()}`)
    }
    // iptables-nft made `table ip nat` (etc.) on first use; drop the ones that were not there
    // before and are empty again (only built-in chains, no rules, ACCEPT policies).
    const nft = which('nft')
    if (!nftBackend || !nft) continue
    const after = await saveFamily(fam)
    for (const [table, t] of after ?? []) {
      const qualified = `${fam.nft} ${table}`
      if (snapshot.nftTables.has(qualified)) continue
      const empty = t.rules.length === 0 && [...t.chains.values()].every((p) => p === 'ACCEPT')
      if (!empty) continue
      const r = await run(nft, ['delete', 'table', fam.nft, table], { allowFail: true })
      if (r.code !== 0) errors.push(`nft delete table ${qualified}: ${r.stderr.trim()}`)
    }
  }
}

function finishCleanup(name, errors) {
  if (errors.length) throw new Error(`${name} cleanup left something behind:\n  ${errors.join('\n  ')}`)
}

// ---------------------------------------------------------------------------------------------
// CNI: bridge + host-local + portmap

function cniError(plugin, err) {
  // A failing plugin prints { code, msg, details } on stdout.
  let msg = err.message
  try {
    const j = JSON.parse(err.stdout)
    if (j?.msg) msg = `${j.msg}${j.details ? `: ${j.details}` : ''} (CNI error ${j.code})`
  } catch {}
  return new Error(`CNI ${plugin}: ${msg}`, { cause: err })
}

/**
 * @param {{ bridge?: string, subnet?: string, networkName?: string, hostPortBase?: number,
 *           containerPort?: number, protocol?: 'tcp'|'udp', ifname?: string, pluginDir?: string,
 *           cniVersion?: string, hairpinMode?: boolean, ipMasq?: boolean, timeoutMs?: number }} [opts]
 */
export function createCniPeer(opts = {}) {
  const {
    bridge = 'cnibench0',
    subnet = '10.201.0.0/16',
    networkName = 'cnibench',
    hostPortBase = 20000,
    containerPort = 80,
    protocol = 'tcp',
    ifname = 'eth0',
    cniVersion = '1.0.0',
    hairpinMode = true,
    ipMasq = true,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  } = opts
  const pluginDir = findCniPluginDir(opts.pluginDir)
  if (!pluginDir) throw new Error(`CNI plugins ${CNI_PLUGINS.join(', ')} not found (run ensurePeersInstalled() first)`)
  const net = parseSubnet(subnet)
  const state = lazyStateDir('cnibench')
  const stateDir = state.path
  const ipamDir = path.join(stateDir, 'ipam') // host-local's dataDir
  const attached = new Map() // i -> { cid, nsPath, result }
  const snapshot = firewallSnapshot()
  let cleaned = false

  // The conflist a runtime would load; plugins run in this order on ADD, in reverse on DEL.
  const conflist = {
    cniVersion,
    name: networkName,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq,
        hairpinMode,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet, gateway: net.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: ipamDir,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
    ],
  }

  const hostPort = (i) => checkHostPort(hostPortBase + i)
  const containerId = (i) => hexId('cnibench', networkName, String(i))

  /** The per-plugin config a runtime (libcni) hands a plugin: conflist name/version + runtimeConfig + prevResult. */
  function pluginConfig(plugin, i, prevResult) {
    const conf = { cniVersion, name: networkName, ...plugin }
    if (plugin.capabilities?.portMappings) {
      conf.runtimeConfig = { portMappings: [{ hostPort: hostPort(i), containerPort, protocol }] }
    }
    if (prevResult) conf.prevResult = prevResult
    return conf
  }

  async function invoke(command, plugin, i, cid, nsPath, prevResult) {
    const env = childEnv({
      CNI_COMMAND: command,
      CNI_CONTAINERID: cid,
      CNI_NETNS: nsPath,
      CNI_IFNAME: ifname,
      CNI_PATH: pluginDir,
    })
    const input = JSON.stringify(pluginConfig(plugin, i, prevResult))
    try {
      const r = await run(path.join(pluginDir, plugin.type), [], { env, input, timeoutMs })
      return command === 'ADD' ? JSON.parse(r.stdout) : undefined
    } catch (err) {
      throw cniError(`${plugin.type} ${command}`, err)
    }
  }

  async function delChain(i, cid, nsPath, result) {
    let first
    for (const plugin of [...conflist.plugins].reverse()) {
      try {
        await invoke('DEL', plugin, i, cid, nsPath, result)
      } catch (err) {
        first ??= err
      }
    }
    if (first) throw first
  }

  return {
    name: `cni-bridge+host-local+portmap${opts.nameSuffix ?? ''}`,
    kind: 'cni',
    bridge,
    subnet,
    gateway: net.gateway,
    containerPort,
    pluginDir,
    stateDir,
    conflist,
    hostPort,
    containerId,
    /** The container's IPv4 address as host-local handed it out (after attach). */
    addressOf(i) {
      const ip = attached.get(i)?.result?.ips?.find((x) => !x.address.includes(':'))
      return ip ? ip.address.split('/')[0] : undefined
    },
    async attach(i, nsPath) {
      checkIndex(i)
      if (cleaned) throw new Error('peer already cleaned up')
      if (attached.has(i)) throw new Error(`container ${i} already attached`)
      await snapshot
      state.ensure()
      const cid = containerId(i)
      let prevResult
      try {
        for (const plugin of conflist.plugins) prevResult = await invoke('ADD', plugin, i, cid, nsPath, prevResult)
      } catch (err) {
        // A runtime DELs the whole chain after a failed ADD.
        await delChain(i, cid, nsPath, prevResult).catch(() => {})
        throw err
      }
      attached.set(i, { cid, nsPath, result: prevResult })
    },
    async detach(i, nsPath) {
      checkIndex(i)
      const state = attached.get(i)
      await delChain(i, state?.cid ?? containerId(i), nsPath ?? state?.nsPath ?? '', state?.result)
      attached.delete(i)
    },
    async cleanup() {
      if (cleaned) return
      cleaned = true
      const errors = []
      for (const [i, s] of [...attached]) {
        try {
          await delChain(i, s.cid, s.nsPath, s.result)
        } catch (err) {
          errors.push(`DEL container ${i}: ${err.message}`)
        }
        attached.delete(i)
      }
      await removeBridge(bridge, errors)
      // The bridge plugin's comments read `name: "<network>" id: "<cid>"`, portmap's
      // `dnat name: "<network>" id: ...`: those and every CNI-* chain that appeared go.
      await firewallCleanup(
        {
          prefix: 'CNI-',
          isShared: (c) => c.startsWith('CNI-HOSTPORT-'),
          nameMarker: `name: \\"${networkName}\\" id:`,
          net,
        },
        await snapshot,
        errors,
      )
      state.remove()
      finishCleanup('CNI', errors)
    },
  }
}

// ---------------------------------------------------------------------------------------------
// netavark

/**
 * @param {{ bridge?: string, subnet?: string, networkName?: string, hostPortBase?: number,
 *           containerPort?: number, protocol?: 'tcp'|'udp', ifname?: string, binary?: string,
 *           firewallDriver?: string, timeoutMs?: number }} [opts]
 */
export function createNetavarkPeer(opts = {}) {
  const {
    bridge = 'nvbench0',
    subnet = '10.202.0.0/16',
    networkName = 'nvbench',
    hostPortBase = 21000,
    containerPort = 80,
    protocol = 'tcp',
    ifname = 'eth0',
    firewallDriver = 'iptables',
    timeoutMs = DEFAULT_TIMEOUT_MS,
  } = opts
  const binary = findNetavark(opts.binary)
  if (!binary) throw new Error('netavark not found (run ensurePeersInstalled() first)')
  const net = parseSubnet(subnet)
  const state = lazyStateDir('nvbench')
  const stateDir = state.path
  const configDir = path.join(stateDir, 'config') // netavark --config: aardvark/lock state
  const attached = new Map() // i -> { nsPath, options }
  const snapshot = firewallSnapshot()
  const networkId = hexId('nvbench-network', networkName, bridge)
  let cleaned = false

  const env = childEnv({ NETAVARK_FW: firewallDriver })
  const hostPort = (i) => checkHostPort(hostPortBase + i)
  const containerId = (i) => hexId('nvbench', networkName, String(i))

  /** netavark 1.4's NetworkOptions: podman does the IPAM, so the address comes as static_ips. */
  function networkOptions(i) {
    return {
      container_id: containerId(i),
      container_name: `${networkName}-${i}`,
      port_mappings: [{ host_ip: '', container_port: containerPort, host_port: hostPort(i), range: 1, protocol }],
      networks: {
        [networkName]: { interface_name: ifname, static_ips: [net.hostAt(i)], aliases: [] },
      },
      network_info: {
        [networkName]: {
          name: networkName,
          id: networkId,
          driver: 'bridge',
          network_interface: bridge,
          subnets: [{ subnet, gateway: net.gateway }],
          ipv6_enabled: false,
          internal: false,
          dns_enabled: false,
          ipam_options: { driver: 'host-local' },
        },
      },
    }
  }

  async function netavark(command, nsPath, options) {
    return run(binary, ['--config', configDir, command, nsPath], { env, input: JSON.stringify(options), timeoutMs })
  }

  return {
    name: `netavark${opts.nameSuffix ?? ''}`,
    kind: 'netavark',
    bridge,
    subnet,
    gateway: net.gateway,
    containerPort,
    binary,
    stateDir,
    networkOptions,
    hostPort,
    containerId,
    addressOf(i) {
      return attached.has(i) ? net.hostAt(i) : undefined
    },
    async attach(i, nsPath) {
      checkIndex(i)
      if (cleaned) throw new Error('peer already cleaned up')
      if (attached.has(i)) throw new Error(`container ${i} already attached`)
      await snapshot
      state.ensure()
      mkdirSync(configDir, { recursive: true, mode: 0o700 })
      const options = networkOptions(i)
      let status
      try {
        const r = await netavark('setup', nsPath, options)
        status = JSON.parse(r.stdout)
      } catch (err) {
        await netavark('teardown', nsPath, options).catch(() => {})
        throw new Error(`netavark setup: ${err.message}`, { cause: err })
      }
      if (!status?.[networkName]?.interfaces?.[ifname]) {
        await netavark('teardown', nsPath, options).catch(() => {})
        throw new Error(`netavark setup returned no ${ifname}: ${JSON.stringify(status)}`)
      }
      attached.set(i, { nsPath, options })
    },
    async detach(i, nsPath) {
      checkIndex(i)
      const state = attached.get(i)
      try {
        await netavark('teardown', nsPath ?? state?.nsPath, state?.options ?? networkOptions(i))
      } catch (err) {
        throw new Error(`netavark teardown: ${err.message}`, { cause: err })
      }
      attached.delete(i)
    },
    async cleanup() {
      if (cleaned) return
      cleaned = true
      const errors = []
      for (const [i, s] of [...attached]) {
        const r = await netavark('teardown', s.nsPath, s.options).catch((err) => err)
        if (r instanceof Error) errors.push(`teardown container ${i}: ${r.message}`)
        attached.delete(i)
      }
      // netavark drops the bridge after the last teardown, but not NETAVARK_FORWARD or the
      // NETAVARK-HOSTPORT-* chains; its rules carry `dnat name: <network> id: ...` or the subnet.
      await removeBridge(bridge, errors)
      await firewallCleanup(
        {
          prefix: 'NETAVARK',
          isShared: (c) => /^NETAVARK(_FORWARD$|_ISOLATION_|-HOSTPORT-)/.test(c),
          nameMarker: `name: ${networkName} id: `,
          net,
        },
        await snapshot,
        errors,
      )
      state.remove()
      finishCleanup('netavark', errors)
    },
  }
}

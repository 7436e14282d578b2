import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BridgeEndpointRecord, BridgeNetworkRecord } from '@cnm/bridge'
import { boundNetnsPaths, ipJson, run } from '@cnm/netlink/testing'
import type { Store } from '../src/store.js'
import { storeKernelDifferences } from './agreement.test-util.js'

/**
 * The fault suite's oracle: what the kernel holds, read with tools that are not cnm's (`ip -j`,
 * `nft -j`, `ss`, /proc/self/mountinfo, the sandbox directory), compared with what the store
 * records. Every check returns human-readable differences; empty means they agree and nothing
 * leaked (no link, firewall element, bound namespace, owner mark or held port without its record,
 * and no record without its kernel object).
 */

export const CNM_LINK_GROUP = String(0x636e6d)

interface IpLink {
  ifname: string
  group?: string
  flags?: string[]
  master?: string
  ifalias?: string
  linkinfo?: { info_kind?: string }
  addr_info?: { family: string; local: string; prefixlen: number }[]
}

interface NftItem {
  family: string
  table?: string
  name?: string
  elem?: unknown[]
}

/** cnm's links in the calling thread's namespace (the one playing the host). */
export function cnmLinks(): IpLink[] {
  return ipJson<IpLink[]>(['-d', 'link', 'show']).filter((l) => l.group === CNM_LINK_GROUP)
}

/** What `nft -j list ruleset` holds of cnm's table, or undefined when there is no such table. */
export function nftCnm(): { sets: Map<string, unknown[]>; chains: string[]; rules: Map<string, number> } | undefined {
  const out = run('nft', ['-j', 'list', 'ruleset']).stdout
  const items = (JSON.parse(out) as { nftables: Record<string, NftItem>[] }).nftables
  let found = false
  const sets = new Map<string, unknown[]>()
  const chains: string[] = []
  const rules = new Map<string, number>()
  for (const item of items) {
    const [kind, obj] = Object.entries(item)[0] ?? []
    if (obj?.family !== 'inet') continue
    if (kind === 'table' && obj.name === 'cnm') found = true
    if (obj.table !== 'cnm') continue
    if (kind === 'set' || kind === 'map') sets.set(obj.name ?? '', obj.elem ?? [])
    if (kind === 'chain') chains.push(obj.name ?? '')
    const chain = (obj as { chain?: string }).chain ?? ''
    if (kind === 'rule') rules.set(chain, (rules.get(chain) ?? 0) + 1)
  }
  return found ? { sets, chains, rules } : undefined
}

/** The key of one element of a set or map, as text (`tcp . 18080`, `br-x`, `10.1.0.0/24`). */
function elemKey(e: unknown): string {
  const key = Array.isArray(e) ? e[0] : e
  const inner = (key as { elem?: { val?: unknown } })?.elem?.val ?? key
  const text = (v: unknown): string => {
    if (typeof v === 'string' || typeof v === 'number') return String(v)
    const o = v as { concat?: unknown[]; prefix?: { addr: string; len: number } }
    if (o?.concat) return o.concat.map(text).join(' . ')
    if (o?.prefix) return `${o.prefix.addr}/${o.prefix.len}`
    return JSON.stringify(v)
  }
  return text(inner)
}

/** The value of a map element (`10.1.0.2 . 80`). */
function elemValue(e: unknown): string {
  const v = Array.isArray(e) ? e[1] : undefined
  const o = v as { concat?: unknown[] } | undefined
  return o?.concat ? o.concat.map(String).join(' . ') : JSON.stringify(v)
}

/** cnm's published ports as nftables holds them: `tcp/18080 -> 10.1.0.2:80` (any host address). */
export function nftPublished(t = nftCnm()): string[] {
  if (!t) return []
  const out: string[] = []
  for (const name of ['dnat4any', 'dnat6any']) {
    for (const e of t.sets.get(name) ?? []) {
      const [proto, port] = elemKey(e).split(' . ')
      const [ip, cport] = elemValue(e).split(' . ')
      out.push(`${proto}/${port} -> ${ip}:${cport}`)
    }
  }
  for (const name of ['dnat4', 'dnat6']) {
    for (const e of t.sets.get(name) ?? []) {
      const [proto, , port] = elemKey(e).split(' . ')
      const [ip, cport] = elemValue(e).split(' . ')
      out.push(`${proto}/${port} -> ${ip}:${cport}`)
    }
  }
  return out.sort()
}

/** TCP ports listening in the calling thread's namespace (`ss`): the ports a controller holds. */
export function listeningTcpPorts(): number[] {
  const out = run('ss', ['-Htln']).stdout
  const ports = out
    .split('\n')
    .map((l) => l.trim().split(/\s+/u)[3] ?? '')
    .filter(Boolean)
    .map((a) => Number(a.slice(a.lastIndexOf(':') + 1)))
  return [...new Set(ports)].sort((a, b) => a - b)
}

const same = (a: readonly string[], b: readonly string[]): boolean =>
  JSON.stringify([...a].sort()) === JSON.stringify([...b].sort())

/**
 * Everything the suite checks after a fault, as differences (empty: the kernel and the store agree,
 * nothing is held twice, nothing leaked). `heldPorts`: whether a live controller on this store
 * should be holding its published TCP ports (`ss`), or none at all (`none`: every process is dead).
 */
export function differences(
  store: Store,
  sandboxDir: string,
  options: { heldPorts?: 'store' | 'none' | 'skip' } = {},
): string[] {
  const snap = store.snapshot()
  const links = cnmLinks()
  const byName = new Map(links.map((l) => [l.ifname, l]))
  const addresses = new Map(ipJson<IpLink[]>(['addr', 'show']).map((l) => [l.ifname, l.addr_info ?? []]))
  const nets = snap.networks.map((n) => ({ row: n, rec: n.record as BridgeNetworkRecord }))
  const eps = snap.endpoints.map((e) => ({ row: e, rec: e.record as BridgeEndpointRecord }))
  const table = nftCnm()
  const published = nftPublished(table)
  const problems = storeKernelDifferences(store, {
    bridges: links.filter((l) => l.linkinfo?.info_kind === 'bridge').map((l) => l.ifname),
    veths: links.filter((l) => l.linkinfo?.info_kind === 'veth').map((l) => l.ifname),
    publishedPorts: published.map((p) => p.split(' -> ')[0] ?? ''),
  })
  problems.push(...store.allocationProblems().map((p) => `store: ${p}`))

  // Links: every bridge up with its gateway, every veth up on its network's bridge, marked as ours.
  for (const { row, rec } of nets) {
    const br = byName.get(rec.bridgeName)
    if (!br) continue // reported above
    if (!br.flags?.includes('UP')) problems.push(`bridge ${rec.bridgeName} of ${row.name} is down`)
    if (!br.ifalias?.startsWith(`cnm:${store.id}:network:${row.id}`))
      problems.push(`bridge ${rec.bridgeName} has alias ${br.ifalias}`)
    const gw = rec.bridgeCidrV4
    const addrs = addresses.get(rec.bridgeName) ?? []
    if (gw && !addrs.some((a) => `${a.local}/${a.prefixlen}` === gw))
      problems.push(`bridge ${rec.bridgeName} lacks its gateway ${gw}`)
  }
  for (const { row, rec } of eps) {
    const veth = byName.get(rec.hostVeth)
    const net = nets.find((n) => n.row.id === row.networkId)
    if (!veth || !net) continue
    if (veth.master !== net.rec.bridgeName)
      problems.push(`veth ${rec.hostVeth} is on ${veth.master ?? 'no bridge'}, not ${net.rec.bridgeName}`)
    if (!veth.flags?.includes('UP')) problems.push(`veth ${rec.hostVeth} is down`)
  }

  // The firewall: cnm's table iff there are networks; its sets, maps and chains name exactly them.
  const fwNets = nets.filter((n) => n.rec.firewallProgrammed)
  if (fwNets.length > 0 && !table) problems.push('nftables: table inet cnm missing')
  if (table) {
    const bridges = fwNets.map((n) => n.rec.bridgeName)
    const setKeys = (name: string): string[] => (table.sets.get(name) ?? []).map(elemKey)
    for (const name of ['bridges', 'fwd_in', 'fwd_out']) {
      if (!same(setKeys(name), bridges)) problems.push(`nftables ${name}: ${setKeys(name)} vs store ${bridges}`)
    }
    const subnets = fwNets.map((n) => n.rec.bridgeCidrV4).filter((s): s is string => !!s)
    const post4 = setKeys('post4')
    if (post4.length !== subnets.length) problems.push(`nftables post4: ${post4} vs store ${subnets}`)
    const netChains = table.chains.filter((c) => c.startsWith('n-')).sort()
    const wanted = bridges.flatMap((b) => [`n-${b}-fwd`, `n-${b}-in`, `n-${b}-post`]).sort()
    if (!same(netChains, wanted)) problems.push(`nftables chains: ${netChains} vs store ${wanted}`)
    // Every chain of cnm's (base chains, `published`, each network's) holds rules when it has networks
    // (not the user's own policy chain, `CNM-USER`, empty until someone writes to it).
    const empty = table.chains.filter((c) => !table.rules.get(c) && c !== 'CNM-USER')
    if (fwNets.length > 0 && empty.length > 0) problems.push(`nftables: chains without rules: ${empty}`)
  }
  const storePorts = eps.flatMap(({ rec }) =>
    rec.ports.map((p) => `${p.proto}/${p.hostPort} -> ${p.containerIP ?? rec.ipv4}:${p.containerPort}`),
  )
  if (!same(published, storePorts)) problems.push(`DNAT: kernel ${published} vs store ${storePorts}`)

  // Sandboxes: bound namespaces, names in the directory and owner marks are exactly the records'.
  const keys = snap.sandboxes.map((s) => s.key)
  const bound = boundNetnsPaths().filter((p) => p.startsWith(`${sandboxDir}/`))
  if (!same(bound, keys)) problems.push(`bound namespaces: ${bound} vs store ${keys}`)
  let files: string[] = []
  try {
    files = readdirSync(sandboxDir)
  } catch {}
  const plain = files.filter((f) => !f.startsWith('.')).map((f) => path.join(sandboxDir, f))
  if (!same(plain, keys)) problems.push(`files in ${sandboxDir}: ${plain} vs store ${keys}`)
  const marks = files.filter((f) => f.endsWith('.cnm-owner'))
  const wantedMarks = keys.map((k) => `.${path.basename(k)}.cnm-owner`)
  if (!same(marks, wantedMarks)) problems.push(`owner marks: ${marks} vs store ${wantedMarks}`)
  for (const m of marks) {
    let owner = ''
    try {
      owner = readFileSync(path.join(sandboxDir, m), 'utf8').trim()
    } catch {}
    if (owner !== store.id) problems.push(`owner mark ${m} holds ${owner}, not ${store.id}`)
  }

  // Inside each sandbox: exactly its joined interfaces, each with its endpoint's address.
  for (const sb of snap.sandboxes) {
    if (!bound.includes(sb.key)) continue
    const inside = ipJson<IpLink[]>(['addr', 'show'], { netns: sb.key }).filter((l) => l.ifname !== 'lo')
    const joins = snap.joins.filter((j) => j.sandboxId === sb.id && j.interfaceName)
    const names = joins.map((j) => j.interfaceName)
    if (
      !same(
        inside.map((l) => l.ifname),
        names,
      )
    )
      problems.push(`sandbox ${sb.key}: interfaces ${inside.map((l) => l.ifname)} vs joins ${names}`)
    for (const j of joins) {
      const ep = eps.find((e) => e.row.id === j.endpointId)
      const want = ep?.rec.ipv4
      const l = inside.find((x) => x.ifname === j.interfaceName)
      if (l && want && !l.addr_info?.some((a) => a.local === want))
        problems.push(`sandbox ${sb.key}: ${j.interfaceName} lacks ${want}`)
    }
  }
  // Unjoined endpoints born in a sandbox would leave an interface in a namespace without a join.
  for (const { row } of eps) {
    const joined = snap.joins.some((j) => j.endpointId === row.id)
    if (!joined && row.sandboxKey && keys.includes(row.sandboxKey))
      problems.push(`endpoint ${row.name} was born in ${row.sandboxKey} but is not joined`)
  }

  // Held ports: a live controller holds its published TCP ports with sockets; a dead one none.
  const held = options.heldPorts ?? 'store'
  if (held !== 'skip') {
    const want =
      held === 'none'
        ? []
        : [...new Set(eps.flatMap(({ rec }) => rec.ports.filter((p) => p.proto === 'tcp').map((p) => p.hostPort)))]
    const listening = listeningTcpPorts()
    if (!same(listening.map(String), want.map(String))) problems.push(`held TCP ports (ss): ${listening} vs ${want}`)
  }
  return problems
}

/** Everything cnm-marked left in the calling namespace and in `sandboxDir` (for "nothing leaks"). */
export function leftovers(sandboxDir: string): string[] {
  const out: string[] = []
  const links = cnmLinks().map((l) => l.ifname)
  if (links.length > 0) out.push(`links: ${links}`)
  const t = nftCnm()
  if (t) {
    const elems = [...t.sets.entries()].filter(([, e]) => e.length > 0).map(([n, e]) => `${n}(${e.length})`)
    if (elems.length > 0 || t.chains.some((c) => c.startsWith('n-'))) out.push(`nftables: ${elems} ${t.chains}`)
  }
  const bound = boundNetnsPaths().filter((p) => p.startsWith(`${sandboxDir}/`))
  if (bound.length > 0) out.push(`namespaces: ${bound}`)
  let files: string[] = []
  try {
    files = readdirSync(sandboxDir)
  } catch {}
  if (files.length > 0) out.push(`files in ${sandboxDir}: ${files}`)
  return out
}

/** Sleeps `ms` (the kernel frees a dead namespace's links asynchronously). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `check` until it returns no problems, or `ms` passes; returns the last problems. */
export async function settle(check: () => string[], ms = 1500): Promise<string[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const p = check()
    if (p.length === 0 || Date.now() > deadline) return p
    await sleep(50)
  }
}

/** One line per fault class for the test output. */
export function summary(name: string, counts: Record<string, number | string>): string {
  return `fault suite | ${name} | ${Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}`
}

/** cnm's kernel objects, in a comparable form (for "this refused operation changed nothing"). */
export function kernelSnapshot(sandboxDir: string): string {
  const t = nftCnm()
  let files: string[] = []
  try {
    files = readdirSync(sandboxDir).sort()
  } catch {}
  return JSON.stringify({
    links: cnmLinks()
      .map((l) => `${l.ifname} ${l.master ?? '-'} ${l.flags?.includes('UP') ? 'up' : 'down'}`)
      .sort(),
    nft: t ? [...t.sets.entries()].map(([n, e]) => `${n}: ${e.map(elemKey).sort()}`).sort() : [],
    published: nftPublished(t),
    namespaces: boundNetnsPaths().filter((p) => p.startsWith(`${sandboxDir}/`)),
    files,
  })
}

/** What a worker process answered: ok, or the error's code and message. */
export interface WorkerReply {
  ok: boolean
  code?: string
  kind?: string
  message?: string
}

/**
 * A controller in another process (`test-fixtures/worker.mjs`) on the same store, driven over JSON
 * lines: the second process of a race, or a process that must be refused a store.
 */
export class Worker {
  readonly #child: ChildProcessWithoutNullStreams
  readonly #pending = new Map<number, (r: WorkerReply) => void>()
  #next = 1
  /** How the worker's controller opened: `{ ready: true }`, or the error it got. */
  readonly opened: Promise<{ ready: boolean; code?: string; kind?: string; message?: string }>

  constructor(storePath: string, sandboxDir: string) {
    const fixture = fileURLToPath(new URL('../test-fixtures/worker.mjs', import.meta.url))
    this.#child = spawn(process.execPath, [fixture, storePath, sandboxDir], { stdio: 'pipe' })
    let err = ''
    this.#child.stderr.on('data', (d: Buffer) => {
      err += d
    })
    let first: ((o: { ready: boolean }) => void) | undefined
    this.opened = new Promise((resolve, reject) => {
      first = resolve
      this.#child.once('exit', (code) => reject(new Error(`worker exited ${code} before it was ready: ${err}`)))
    })
    let buffer = ''
    this.#child.stdout.on('data', (b: Buffer) => {
      buffer += b.toString('utf8')
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as WorkerReply & { id?: number; ready?: boolean }
        buffer = buffer.slice(nl + 1)
        if (msg.id === undefined) first?.(msg as { ready: boolean })
        else {
          this.#pending.get(msg.id)?.(msg)
          this.#pending.delete(msg.id)
        }
      }
    })
  }

  /** Runs one operation in the worker (`op` as worker.mjs names them). */
  request(op: string, args: Record<string, unknown> = {}): Promise<WorkerReply> {
    const id = this.#next++
    return new Promise((resolve) => {
      this.#pending.set(id, resolve)
      this.#child.stdin.write(`${JSON.stringify({ ...args, id, op })}\n`)
    })
  }

  /** Closes its controller and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.stdin.end()
    await exited
  }
}

/**
 * For `afterAll`: removes a test's temporary directory, detaching whatever it mounted below it
 * (a read-only view, a small tmpfs); never throws, so the harness's own checks still run after it.
 */
export function removeTree(dir: string | undefined): void {
  if (!dir) return
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(`${dir}/`))
    .sort()
    .reverse()
  for (const p of mounted) run('umount', ['-l', p], { check: false })
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch (err) {
    console.error(`cannot remove ${dir}: ${(err as Error).message}`)
  }
}

/**
 * For `afterAll`: removes the sandbox directory if it is empty of namespaces; a namespace still
 * bound there is left for the harness to report (and detach), and nothing is thrown.
 */
export function tryRemove(dir: string | undefined): void {
  if (!dir) return
  try {
    rmSync(dir, { recursive: true, force: true })
  } catch {}
}

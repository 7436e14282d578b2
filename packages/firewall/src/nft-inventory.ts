import type { Inventory, InventoryNetwork, InventoryPort } from './inventory.js'
import type { NftNetworkState } from './nft-script.js'
import { NFT_FAMILY, NFT_TABLE, networkChains, publishedPortKey, publishedPortSet } from './nft-script.js'
import type { PortProtocol, PortRule } from './port-mapping.js'

type Json = unknown

/** One element of a set or map, as `nft -j` prints it. */
interface NftElement {
  key: Json
  comment: string | undefined
  value: Json
}

/** The parts of `nft -j list table inet cnm` cnm reads. */
export interface NftTableState {
  exists: boolean
  chains: string[]
  sets: Map<string, NftElement[]>
  /** How many rules each chain holds (what `verify` compares with what cnm wrote). */
  rules: Map<string, number>
}

function element(raw: Json, isMap: boolean): NftElement {
  const [k, v] = isMap && Array.isArray(raw) ? raw : [raw, undefined]
  const wrapped = (k as { elem?: { val: Json; comment?: string } } | null)?.elem
  return wrapped ? { key: wrapped.val, comment: wrapped.comment, value: v } : { key: k, comment: undefined, value: v }
}

/** Parses `nft -j list table inet cnm` (undefined text: the table does not exist). */
export function parseNftTable(text: string | undefined): NftTableState {
  const state: NftTableState = { exists: text !== undefined, chains: [], sets: new Map(), rules: new Map() }
  if (text === undefined) return state
  const items = (JSON.parse(text) as { nftables?: Record<string, Json>[] }).nftables ?? []
  for (const item of items) {
    const chain = item.chain as { name?: string; table?: string } | undefined
    if (chain?.name && chain.table === NFT_TABLE) state.chains.push(chain.name)
    const rule = item.rule as { chain?: string; table?: string } | undefined
    if (rule?.chain && rule.table === NFT_TABLE) state.rules.set(rule.chain, (state.rules.get(rule.chain) ?? 0) + 1)
    const set = (item.set ?? item.map) as { name?: string; table?: string; elem?: Json[] } | undefined
    if (set?.name && set.table === NFT_TABLE) {
      state.sets.set(
        set.name,
        (set.elem ?? []).map((e) => element(e, item.map !== undefined)),
      )
    }
  }
  return state
}

function jumpTarget(value: Json): string | undefined {
  return (value as { jump?: { target?: string } } | null)?.jump?.target
}

function prefixText(key: Json): string | undefined {
  const p = (key as { prefix?: { addr: string; len: number } } | null)?.prefix
  return p ? `${p.addr}/${p.len}` : undefined
}

/** What the kernel holds of the network on `bridge`. */
export function nftNetworkState(state: NftTableState, bridge: string): NftNetworkState {
  const c = networkChains(bridge)
  const has = (set: string, pick: (e: NftElement) => boolean): boolean => (state.sets.get(set) ?? []).some(pick)
  const subnets: string[] = []
  for (const map of ['post4', 'post6']) {
    for (const e of state.sets.get(map) ?? []) {
      const cidr = prefixText(e.key)
      if (cidr && jumpTarget(e.value) === c.post) subnets.push(cidr)
    }
  }
  return {
    bridge,
    inFwdIn: has('fwd_in', (e) => e.key === bridge),
    inFwdOut: has('fwd_out', (e) => e.key === bridge),
    inBridges: has('bridges', (e) => e.key === bridge),
    subnets,
    chains: [c.fwd, c.in, c.post].filter((name) => state.chains.includes(name)),
  }
}

function networks(state: NftTableState): InventoryNetwork[] {
  const found = new Map<string, InventoryNetwork>()
  for (const e of state.sets.get('fwd_in') ?? []) {
    if (typeof e.key === 'string') found.set(e.key, { id: e.comment, bridge: e.key, subnets: [] })
  }
  for (const chain of state.chains) {
    const bridge = chain.match(/^n-(.+)-(?:fwd|in|post)$/u)?.[1]
    if (bridge && !found.has(bridge)) found.set(bridge, { id: undefined, bridge, subnets: [] })
  }
  for (const net of found.values()) net.subnets = nftNetworkState(state, net.bridge).subnets
  return [...found.values()]
}

/** The published ports (DNAT map elements) the table holds. */
export function nftPorts(state: NftTableState): InventoryPort[] {
  const out: InventoryPort[] = []
  for (const [name, elems] of state.sets) {
    const m = name.match(/^dnat([46])(any)?$/u)
    if (!m) continue
    for (const e of elems) {
      const k = (e.key as { concat?: Json[] } | null)?.concat ?? []
      const v = (e.value as { concat?: Json[] } | null)?.concat ?? []
      const [proto, hostIP, hostPort] = m[2] ? [k[0], undefined, k[1]] : [k[0], k[1], k[2]]
      out.push({
        proto: String(proto) as PortProtocol,
        ...(hostIP === undefined ? {} : { hostIP: String(hostIP) }),
        hostPort: Number(hostPort),
        containerIP: String(v[0]),
        containerPort: Number(v[1]),
        ...(e.comment === undefined ? {} : { bridge: e.comment }),
      })
    }
  }
  return out
}

/** The inventory of the nftables backend. */
export function nftInventory(state: NftTableState): Inventory {
  return {
    backend: 'nftables',
    objects: state.exists ? [`table ${NFT_FAMILY} ${NFT_TABLE}`] : [],
    networks: networks(state),
    ports: nftPorts(state),
  }
}

/** A published host port's element in `pubports`/`pubports_ip`, as {@link nftPublishedPorts} lists it. */
export function publishedPortId(r: {
  proto: string
  family: 4 | 6
  hostIP: string | undefined
  hostPort: number
}): string {
  return `${publishedPortSet(r)}|${publishedPortKey(r, r.hostPort)}`
}

/** The elements of `pubports` and `pubports_ip` (`pubports|ipv4 . udp . 5300`). */
export function nftPublishedPorts(state: NftTableState): Set<string> {
  const out = new Set<string>()
  for (const set of ['pubports', 'pubports_ip']) {
    for (const e of state.sets.get(set) ?? []) {
      const k = (e.key as { concat?: Json[] } | null)?.concat
      if (k?.length === 3) out.add(`${set}|${k.join(' . ')}`)
    }
  }
  return out
}

/** An inventory port's family (from its addresses). */
export function portFamily(p: { hostIP?: string | undefined; containerIP: string }): 4 | 6 {
  return (p.hostIP ?? p.containerIP).includes(':') ? 6 : 4
}

/**
 * The `publishedPortKey`s of the ports published on a host address (`dnat4`, `dnat6`) that stay so
 * once the host ports of `gone` are unpublished: their `pubports_ip` elements must stay.
 */
export function addressPortsKept(state: NftTableState, gone: readonly PortRule[]): Set<string> {
  const id = (p: { proto: string; hostIP?: string | undefined; hostPort: number }): string =>
    `${p.proto}|${p.hostIP}|${p.hostPort}`
  const leaving = new Set(gone.filter((r) => r.hostIP !== undefined).map(id))
  const kept = new Set<string>()
  for (const p of nftPorts(state)) {
    if (p.hostIP !== undefined && !leaving.has(id(p)))
      kept.add(publishedPortKey({ ...p, family: portFamily(p) }, p.hostPort))
  }
  return kept
}

import type { ParsedNetworkRules } from './network-rules.js'
import { addressPortsKept, type NftTableState } from './nft-inventory.js'
import type { NftNetworkState } from './nft-script.js'
import {
  BASE_CHAINS,
  BASE_RULES,
  dnatMap,
  MAPS,
  networkChainRules,
  networkChains,
  publishedPortKey,
  publishedPortSet,
  USER_CHAIN,
} from './nft-script.js'
import type { PortRule } from './port-mapping.js'

/*
 * What a successful write of this backend leaves in `table inet cnm`, applied to a read of it (the
 * shapes are those `parseNftTable` makes of `nft -j`), so that a batch keeps its one read of the
 * table current instead of reading every element again after each network it restores. A write
 * that fails, and anything else, still drops the read.
 */

const jump = (target: string): { jump: { target: string } } => ({ jump: { target } })

const addChain = (state: NftTableState, name: string): void => {
  if (!state.chains.includes(name)) state.chains.push(name)
}

type Elements = NftTableState['sets'] extends Map<string, infer E> ? E : never

const elements = (state: NftTableState, set: string): Elements => {
  let elems = state.sets.get(set)
  if (!elems) {
    elems = []
    state.sets.set(set, elems)
  }
  return elems
}

/** Puts `elem` in `set`, replacing an element with the same key (`add element` of a map). */
function putElement(state: NftTableState, set: string, key: unknown, value: unknown, comment?: string): void {
  const elems = elements(state, set)
  const k = JSON.stringify(key)
  const at = elems.findIndex((e) => JSON.stringify(e.key) === k)
  const e = { key, comment, value }
  if (at < 0) elems.push(e)
  else if (comment === undefined) elems[at] = { ...e, comment: elems[at]?.comment }
  else elems[at] = e
}

function dropElements(state: NftTableState, set: string, pick: (key: unknown) => boolean): void {
  const elems = state.sets.get(set)
  if (elems)
    state.sets.set(
      set,
      elems.filter((e) => !pick(e.key)),
    )
}

/** The table, its base chains and maps, and their constant rules (`preamble`). */
export function modelSkeleton(state: NftTableState, extraChains: readonly string[] = []): void {
  state.exists = true
  for (const [name] of BASE_CHAINS) addChain(state, name)
  addChain(state, 'published')
  addChain(state, USER_CHAIN)
  for (const name of extraChains) addChain(state, name)
  for (const [, name] of MAPS) elements(state, name)
  for (const [chain, rules] of BASE_RULES) state.rules.set(chain, rules.length)
}

/**
 * A network written (`addNetwork`, or a repair's rewrite): its chains with their rules, and its
 * elements in the bridge, forward and postrouting maps. False when the model cannot say what the
 * kernel prints (a single-address subnet, listed without its prefix): drop the read instead.
 */
export function modelNetwork(state: NftTableState, net: ParsedNetworkRules): boolean {
  const subnets = net.subnets.map((s) => {
    const [addr = '', len = ''] = s.cidr.split('/')
    return { family: s.family, addr, len: Number(len) }
  })
  if (subnets.some((s) => s.len === (s.family === 4 ? 32 : 128))) return false
  const c = networkChains(net.bridge)
  modelSkeleton(state, [c.fwd, c.in, c.post])
  for (const [chain, rules] of networkChainRules(net)) state.rules.set(chain, rules.length)
  putElement(state, 'fwd_in', net.bridge, jump(c.fwd), net.id)
  putElement(state, 'fwd_out', net.bridge, jump(c.in))
  putElement(state, 'bridges', net.bridge, undefined)
  for (const s of subnets) {
    putElement(state, `post${s.family}`, { prefix: { addr: s.addr, len: s.len } }, jump(c.post))
    putElement(state, `subnets${s.family}`, { prefix: { addr: s.addr, len: s.len } }, undefined)
  }
  return true
}

/** A network deleted (`nftDeleteNetwork` of what `gone` says was there). */
export function modelNetworkGone(state: NftTableState, gone: NftNetworkState): void {
  for (const set of ['fwd_in', 'fwd_out', 'bridges']) dropElements(state, set, (k) => k === gone.bridge)
  const cidrs = new Set(gone.subnets)
  for (const set of ['post4', 'post6', 'subnets4', 'subnets6']) {
    dropElements(state, set, (k) => {
      const p = (k as { prefix?: { addr: string; len: number } } | null)?.prefix
      return p !== undefined && cidrs.has(`${p.addr}/${p.len}`)
    })
  }
  for (const chain of gone.chains) {
    state.chains = state.chains.filter((name) => name !== chain)
    state.rules.delete(chain)
  }
}

const portKey = (r: PortRule): unknown =>
  r.hostIP === undefined ? { concat: [r.proto, r.hostPort] } : { concat: [r.proto, r.hostIP, r.hostPort] }

/** A host port's element in `pubports`/`pubports_ip`, as `nft -j` prints it. */
const typed = (part: string): string | number => (/^\d+$/u.test(part) ? Number(part) : part)
const publishedKey = (r: PortRule): unknown => ({ concat: publishedPortKey(r, r.hostPort).split(' . ').map(typed) })

/**
 * DNAT elements added (`nftAddPorts`, which succeeds only where no element holds the host port or
 * one holds it exactly so: the caller adds only what the read does not hold already).
 */
export function modelPorts(state: NftTableState, rules: readonly PortRule[]): void {
  for (const r of rules) {
    const value = { concat: [r.containerIP, r.containerPort] }
    elements(state, dnatMap(r)).push({ key: portKey(r), comment: r.bridge, value })
  }
}

/** Elements added to `pubports`/`pubports_ip` (by `nftAddPorts`: the caller gives only those the read lacks). */
export function modelPublishedPorts(state: NftTableState, rules: readonly PortRule[]): void {
  for (const r of rules)
    elements(state, publishedPortSet(r)).push({ key: publishedKey(r), comment: undefined, value: undefined })
}

/**
 * DNAT elements deleted (`nftDeletePorts`): one pass over each map; their `pubports` elements with
 * them, and their `pubports_ip` elements where no other host address publishes the port.
 */
export function modelPortsGone(state: NftTableState, rules: readonly PortRule[]): void {
  const kept = rules.some((r) => r.hostIP !== undefined) ? addressPortsKept(state, rules) : new Set<string>()
  const gone = new Map<string, Set<string>>()
  const drop = (set: string, key: unknown): void => {
    const keys = gone.get(set) ?? new Set<string>()
    keys.add(JSON.stringify(key))
    gone.set(set, keys)
  }
  for (const r of rules) {
    drop(dnatMap(r), portKey(r))
    if (r.hostIP === undefined || !kept.has(publishedPortKey(r, r.hostPort))) drop(publishedPortSet(r), publishedKey(r))
  }
  for (const [map, keys] of gone) dropElements(state, map, (key) => keys.has(JSON.stringify(key)))
}

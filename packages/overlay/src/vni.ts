import type { ClusterContext } from '@cnm/driverapi'
import { endpointsPrefix, networkKey, parseNetworkRecordValue, vniKey, vnisPrefix } from './cluster-keys.js'
import { VniUnavailableError } from './errors.js'
import { VNI_RANGE } from './network-config.js'

/** How many times a lost race for a VNI is retried before giving up. */
const ATTEMPTS = 16
/** How many of the lowest free VNIs a new network picks from. */
const SPREAD = 64

function freeVnis(used: ReadonlySet<number>, count: number): number[] {
  const out: number[] = []
  for (let v: number = VNI_RANGE.first; v <= VNI_RANGE.last && out.length < count; v++) if (!used.has(v)) out.push(v)
  return out
}

function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0
  return h
}

async function recorded(c: ClusterContext, nid: string): Promise<number | undefined> {
  const entry = await c.kv.get(networkKey(c, nid))
  if (!entry) return undefined
  const vni = parseNetworkRecordValue(entry.value)
  if (vni === undefined) throw new VniUnavailableError(`overlay network ${nid}: its cluster record is malformed`)
  return vni
}

async function claim(c: ClusterContext, nid: string, vni: number): Promise<boolean> {
  return c.kv.txn(
    [
      { key: networkKey(c, nid), absent: true },
      { key: vniKey(c, vni), absent: true },
    ],
    [
      { put: networkKey(c, nid), value: JSON.stringify({ vni }) },
      { put: vniKey(c, vni), value: nid },
    ],
  )
}

/**
 * The network's VNI, cluster-wide: the one its record holds (the network was created on another
 * host first), else the one asked for, else one of the lowest free ones from 4096 — claimed with the network
 * record in one transaction, so two networks never share a VNI whatever the timing.
 */
export async function claimVni(c: ClusterContext, nid: string, wanted: number | undefined): Promise<number> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const have = await recorded(c, nid)
    if (have !== undefined) {
      if (wanted !== undefined && wanted !== have) {
        throw new VniUnavailableError(`overlay network ${nid} already has VNI ${have}, not ${wanted}`)
      }
      return have
    }
    if (wanted !== undefined) {
      if (await claim(c, nid, wanted)) return wanted
      if ((await recorded(c, nid)) === undefined) {
        const owner = (await c.kv.get(vniKey(c, wanted)))?.value ?? 'another network'
        throw new VniUnavailableError(`VNI ${wanted} is already used by overlay network ${owner}`)
      }
      continue
    }
    const used = new Set(
      (await c.kv.range(vnisPrefix(c))).entries.map((e) => Number(e.key.slice(vnisPrefix(c).length))),
    )
    const free = freeVnis(used, SPREAD)
    if (free.length === 0) throw new VniUnavailableError(`no free VNI left for overlay network ${nid}`)
    // Networks created at once spread over the first free VNIs (by their id) instead of all racing
    // for the lowest one; the same network on two hosts picks the same VNI.
    const vni = free[(hash(nid) + attempt) % free.length] as number
    if (await claim(c, nid, vni)) return vni
  }
  throw new VniUnavailableError(`overlay network ${nid}: lost the race for a VNI ${ATTEMPTS} times`)
}

/**
 * Frees the network's cluster record and VNI when no host has an endpoint on it any more; while
 * another host still does, the network lives on there and its record stays.
 */
export async function releaseVni(c: ClusterContext, nid: string, vni: number): Promise<boolean> {
  const entry = await c.kv.get(networkKey(c, nid))
  if (!entry || parseNetworkRecordValue(entry.value) !== vni) return false
  return c.kv.txn(
    [
      { key: networkKey(c, nid), modRevision: entry.modRevision },
      { prefix: endpointsPrefix(c, nid), empty: true },
    ],
    [{ delete: networkKey(c, nid) }, { delete: vniKey(c, vni) }],
  )
}

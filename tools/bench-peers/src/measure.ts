// Timing peers the same way: N container namespaces made beforehand (not timed), N attaches, then
// N detaches, after a few unmeasured containers that warm the peer up (a runtime attaches many).
import { createNetns, deleteNetns } from '@cnm/netlink'
import type { BenchPeer } from './peer.js'

export interface PeerTimes {
  /** Median attach, ms. */
  attach: number
  /** Median of the first 10% of attaches. */
  first: number
  /** Median of the last 10% of attaches. */
  last: number
  /** Median detach, ms. */
  detach: number
}

export interface MeasureOptions {
  /** Where the container namespaces are bound (the caller removes the directory). */
  nsDir: string
  /** Unmeasured containers attached and detached first. Default 10. */
  warmUp?: number
}

/** The upper median (the middle element, or the higher of the two). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? (s[Math.floor(s.length / 2)] as number) : Number.NaN
}

/** The median of the first (or last) 10% of `xs`, at least one value. */
export function tenth(xs: readonly number[], last: boolean): number {
  const k = Math.max(1, Math.round(xs.length / 10))
  return median(last ? xs.slice(-k) : xs.slice(0, k))
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}

const label = (name: string): string => name.replace(/[^A-Za-z0-9_.-]+/g, '-')

/** Attaches and detaches `n` containers through `peer`; container `i` lives at `<nsDir>/<peer>-<i>`. */
export async function measurePeer(
  peer: BenchPeer,
  n: number,
  { nsDir, warmUp = 10 }: MeasureOptions,
): Promise<PeerTimes> {
  for (let i = 0; i < warmUp; i++) {
    const p = `${nsDir}/${label(peer.name)}-warm${i}`
    await createNetns(p)
    await peer.attach(1000 + i, p)
    await peer.detach(1000 + i, p)
    deleteNetns(p)
  }
  const paths: string[] = []
  for (let i = 0; i < n; i++) {
    const p = `${nsDir}/${label(peer.name)}-${i}`
    await createNetns(p)
    paths.push(p)
  }
  const attach: number[] = []
  const detach: number[] = []
  for (let i = 0; i < n; i++) attach.push(await timed(() => peer.attach(i, paths[i] as string)))
  for (let i = 0; i < n; i++) detach.push(await timed(() => peer.detach(i, paths[i] as string)))
  for (const p of paths) deleteNetns(p)
  return { attach: median(attach), first: tenth(attach, false), last: tenth(attach, true), detach: median(detach) }
}

// What every peer offers a benchmark, and the few checks they share.
import { createHash } from 'node:crypto'

/** Anything a benchmark can attach containers to and detach them from (cnm's side too). */
export interface BenchPeer {
  readonly name: string
  /** Connects container `i`, whose network namespace is bound at `nsPath`, with one published port. */
  attach(i: number, nsPath: string): Promise<void>
  detach(i: number, nsPath: string): Promise<void>
}

/** A peer runtime's network stack, run in a network namespace of its own that plays the host. */
export interface Peer extends BenchPeer {
  readonly kind: 'cni' | 'netavark'
  /** The peer's own namespace (bound file): its bridge, host ends and rules live there. */
  readonly netns: string
  readonly bridge: string
  readonly subnet: string
  readonly gateway: string
  readonly containerPort: number
  /** The host port published for container `i`. */
  hostPort(i: number): number
  /** Container `i`'s IPv4 address, once attached. */
  addressOf(i: number): string | undefined
  /** Deletes the peer's namespace and state files: everything it made goes with them. */
  cleanup(): Promise<void>
}

export interface PeerOptions {
  bridge?: string
  subnet?: string
  networkName?: string
  /** Container `i` publishes `hostPortBase + i`. */
  hostPortBase?: number
  containerPort?: number
  protocol?: 'tcp' | 'udp'
  ifname?: string
  timeoutMs?: number
  /** Where the peer's namespace is bound. Default: `/run/cnm-bench-peers`. */
  netnsDir?: string
}

/** A stable 64-hex-digit id (container and network ids) from `parts`. */
export function hexId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex')
}

export function checkIndex(i: number): void {
  if (!Number.isInteger(i) || i < 0) throw new TypeError(`container index must be a non-negative integer, got ${i}`)
}

export function checkHostPort(p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`host port ${p} out of range`)
  return p
}

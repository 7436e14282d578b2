import type { PublishedPort } from '../types.js'

/** A "link" the in-memory driver made: what a kernel would hold (a bridge, a veth), with its marks. */
export interface MemoryLink {
  name: string
  /** The store id written on it. */
  owner: string
  network: string
  /** Absent for a network's own link. */
  endpoint?: string
}

/**
 * What the in-memory driver keeps "in the kernel": it outlives a driver instance, so a second
 * driver (after a simulated restart, or in another simulated process) finds what the first made.
 * Tests reach in to inject faults (`failNext`) or to break things behind the driver's back
 * (`links.delete(name)`).
 */
export interface MemoryKernel {
  links: Map<string, MemoryLink>
  /** Published host ports, `proto/hostPort` → the endpoint id holding it. */
  ports: Map<string, string>
  /** Makes the next call of `verb` (a driver method's name) fail with `error` (once per call). */
  failNext(verb: string, error?: Error): void
  /** Throws the injected failure for `verb`, if any (the driver calls it). */
  check(verb: string): void
  /** Every (verb) call the drivers on this kernel made, in order. */
  calls: string[]
}

/** Makes an empty in-memory kernel. */
export function createMemoryKernel(): MemoryKernel {
  const faults = new Map<string, Error[]>()
  return {
    links: new Map(),
    ports: new Map(),
    calls: [],
    failNext(verb, error = Object.assign(new Error(`injected failure in ${verb}`), { code: 'EIO' })) {
      faults.set(verb, [...(faults.get(verb) ?? []), error])
    },
    check(verb) {
      this.calls.push(verb)
      const queue = faults.get(verb)
      const err = queue?.shift()
      if (queue?.length === 0) faults.delete(verb)
      if (err) throw err
    },
  }
}

/** `proto/hostPort` keys of a published port. */
export function portKeys(p: PublishedPort): string[] {
  return Array.from({ length: p.hostPortEnd - p.hostPort + 1 }, (_, i) => `${p.proto}/${p.hostPort + i}`)
}

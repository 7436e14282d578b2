import { UnknownProtocolError } from './errors.js'

/** A transport protocol the allocator keeps ports for. */
export type Protocol = 'tcp' | 'udp' | 'sctp'

/** The protocols, in a fixed order. */
export const PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp']

/** Returns `proto` when it is `tcp`, `udp` or `sctp` (exactly, lower case); throws `ERR_UNKNOWN_PROTOCOL` otherwise. */
export function parseProtocol(proto: unknown): Protocol {
  if (proto === 'tcp' || proto === 'udp' || proto === 'sctp') return proto
  throw new UnknownProtocolError(proto)
}

import { tryParseAddress } from '@cnm/ip'
import { type ConntrackEntry, CT_MSG, IPPROTO, nfgenmsg, parseEntry } from './conntrack-codec.js'
import { sourceNated } from './conntrack-match.js'
import { openGroupSocket } from './group-socket.js'

/** The multicast group of new conntrack entries (NFNLGRP_CONNTRACK_NEW). */
export const NFNLGRP_CONNTRACK_NEW = 1
/** AF_INET, for the barrier's request. */
const AF_INET = 2
/** More new entries than this in one second: the watch stands down for {@link PAUSE_MS}. */
const MAX_EVENTS_PER_SECOND = 20_000
const PAUSE_MS = 60_000
/**
 * At most this many addresses are recorded (a container with CAP_NET_RAW could make flows from
 * every address of a /64); past it the watch knows nothing until its next read of the table.
 */
const MAX_ADDRESSES = 65_536
/**
 * Once a minute (when asked) the watch reads the table again and checks that every flow of a
 * tracked address it finds was announced; one that was not means the host filters conntrack events
 * (a CT template's `--ctevents` without `new`, an nft `ct event set` without it): the watch then
 * stops for good, and every flush dumps the table.
 */
const VERIFY_MS = 60_000

/** What a {@link ConntrackWatch} is asked about. */
export interface ConntrackQuery {
  /** Flows to or from these addresses (the original source or destination, or the reply's source). */
  addresses?: readonly string[]
  /** Flows whose original destination port (of `proto`) is in one of these ranges. */
  ports?: readonly { proto: 'tcp' | 'udp' | 'sctp'; port: number; endPort?: number }[]
  /**
   * Source-NATed flows (masquerade, SNAT: the reply goes to another address or port than the
   * original came from) whose reply destination port — the port their source was translated to —
   * is in one of these ranges: what a conntrack match `{ replyPort, replyEndPort, snat: true }`
   * selects.
   */
  snatPorts?: readonly { proto: 'tcp' | 'udp' | 'sctp'; port: number; endPort?: number }[]
}

/** The bits of a port's slot in the watch's per-protocol array. */
const PORT_SEEN = 1
const SNAT_PORT_SEEN = 2

/**
 * Knows, from the kernel's conntrack events, which of some addresses (and which destination ports,
 * and which ports flows were source-NATed to) the table may hold a flow of, so that a flush with
 * nothing to delete need not dump the table: a dump walks the kernel's whole conntrack hash table
 * (262,144 buckets here, ~13 ms whatever it finds), and while it walks, link changes elsewhere wait
 * (its RCU read side holds up their grace periods). Errs only towards "may hold".
 */
export interface ConntrackWatch {
  /**
   * Whether the table may hold a flow the query names: every event the kernel sent before this
   * call is read first (a round trip on the watch's socket). True whenever the watch cannot know:
   * notifications lost, events off (`net.netfilter.nf_conntrack_events = 0`), the watch standing
   * down for a flood of new flows, or closed. After a loss (and at first) it reads the table once.
   */
  mayHold(query: ConntrackQuery): Promise<boolean>
  /** A mark to pass to {@link forget}, taken just before a flush dumps the table. */
  mark(): number
  /**
   * After a flush from `since` deleted every flow of `addresses`: forgets them, unless a new flow
   * of one was seen since. (Ports are never forgotten: a flush by port deletes only the flows of
   * some destinations.)
   */
  forget(addresses: readonly string[], since: number): void
  /** The addresses worth knowing about changed (a new subnet): the next question reads the table. */
  invalidate(): void
  /** Stops the watch and closes its socket. Idempotent. */
  close(): void
}

/** How a watch reads the whole table (the handle's conntrack dump, on the thread pool). */
export type ConntrackLister = () => Promise<ConntrackEntry[]>

/** An address's canonical text (as events carry it), or undefined for what is no address. */
const canonical = (text: string): string | undefined => tryParseAddress(text)?.text

/**
 * Watches the new conntrack entries of the calling thread's network namespace (the
 * NFNLGRP_CONNTRACK_NEW group of a NETLINK_NETFILTER socket, opened synchronously here), recording
 * for each the addresses `tracked` accepts, its destination port and, for a source-NATed one, its
 * reply's destination port (the kernel sends the event when it confirms the entry, after its
 * POSTROUTING NAT: the reply tuple holds the translated source); see {@link ConntrackWatch}.
 * `eventsOn` says whether the namespace sends conntrack events at all; `verifyMs`, how often it
 * checks that they announce every flow (see VERIFY_MS). The socket does not keep the process alive.
 */
export function watchConntrack(
  tracked: (address: string) => boolean,
  list: ConntrackLister,
  eventsOn: () => boolean,
  timeoutMs: number,
  verifyMs = VERIFY_MS,
): ConntrackWatch {
  const sock = openGroupSocket(NFNLGRP_CONNTRACK_NEW, 4 << 20, 'watch conntrack entries')
  /** Bumped for each entry recorded: what an address last saw. */
  let gen = 0
  const addresses = new Map<string, number>()
  /**
   * Per protocol, one slot per port (never forgotten): PORT_SEEN when a flow was seen to it (its
   * original destination port), SNAT_PORT_SEEN when a flow's source was translated to it (the
   * reply's destination port of a source-NATed flow). 192 KiB in all, whatever the traffic.
   */
  const ports = new Map<number, Uint8Array>([
    [IPPROTO.tcp, new Uint8Array(65536)],
    [IPPROTO.udp, new Uint8Array(65536)],
    [IPPROTO.sctp, new Uint8Array(65536)],
  ])
  /** What was recorded is not the whole story (never read the table, or notifications lost). */
  let lost = true
  let losses = 0
  let seeding: Promise<void> | undefined
  let closed = false
  let windowStart = 0
  let windowCount = 0
  let pausedUntil = 0
  /** Events proved unreliable (see VERIFY_MS): the watch answers "may hold" for good. */
  let disabled = false
  let verifiedAt = 0
  /** Bumped by each `forget`: a check of the table that overlapped one cannot judge. */
  let forgets = 0

  const lose = (): void => {
    lost = true
    losses++
  }
  const record = (e: ConntrackEntry): void => {
    gen++
    for (const a of [e.original.src, e.original.dst, e.reply.src]) {
      if (!tracked(a)) continue
      if (addresses.size >= MAX_ADDRESSES && !addresses.has(a)) lose()
      else addresses.set(a, gen)
    }
    const seen = ports.get(e.original.proto)
    if (!seen) return
    const dport = e.original.dstPort
    if (dport !== undefined) seen[dport] = (seen[dport] ?? 0) | PORT_SEEN
    // Source-NATed: the port its source was translated to, where the reply comes back.
    const natPort = e.reply.dstPort
    if (natPort !== undefined && sourceNated(e)) seen[natPort] = (seen[natPort] ?? 0) | SNAT_PORT_SEEN
  }
  const standDown = (): void => {
    lose()
    pausedUntil = performance.now() + PAUSE_MS
    try {
      sock.dropMembership(NFNLGRP_CONNTRACK_NEW)
    } catch {} // then the events keep coming, and are ignored while paused
  }
  sock.on('message', (msgs) => {
    if (pausedUntil > 0) return
    const now = performance.now()
    if (now - windowStart > 1000) {
      windowStart = now
      windowCount = 0
    }
    for (const msg of Array.isArray(msgs) ? msgs : [msgs]) {
      if (msg.type !== CT_MSG.NEW) continue
      if (++windowCount > MAX_EVENTS_PER_SECOND) return standDown()
      try {
        const e = parseEntry(msg.data)
        if (e) record(e)
      } catch {
        lose() // an event it cannot read: it knows less than it thought
      }
    }
  })
  // ENOBUFS: the kernel dropped notifications; or messages the package could not read.
  sock.on('error', lose)
  sock.on('invalid', lose)
  sock.on('truncatedMessage', lose)

  /**
   * Every event sent before now has been read once this resolves: the answer to a request comes
   * after them on the same socket. The request is a get that names no entry, which the kernel
   * refuses at once (EINVAL) without looking at the table.
   */
  const barrier = async (): Promise<void> => {
    await sock.request(CT_MSG.GET, [nfgenmsg(AF_INET)], { timeout: timeoutMs, checkError: false })
  }
  /**
   * Reads the table: after a loss (or at first) what is recorded starts again from it; else (a
   * check) every flow it holds of a tracked address must have been announced.
   */
  const seed = (): Promise<void> => {
    seeding ??= (async () => {
      const check = !lost
      const [lossesBefore, forgetsBefore] = [losses, forgets]
      if (!check) addresses.clear() // rebuilt from the table and the events from now on
      const entries = await list()
      await barrier() // the events of entries made while the table was read
      if (check && losses === lossesBefore && forgets === forgetsBefore) {
        const unannounced = entries.some((e) =>
          [e.original.src, e.original.dst, e.reply.src].some((a) => tracked(a) && !addresses.has(a)),
        )
        if (unannounced && addresses.size < MAX_ADDRESSES) disabled = true
      }
      for (const e of entries) record(e)
      verifiedAt = performance.now()
      if (losses === lossesBefore) lost = false // events since the dump began were read into it too
    })().finally(() => {
      seeding = undefined
    })
    return seeding
  }
  /** Whether a port of the ranges has `bit` (true for what it cannot read: a bad protocol or port). */
  const seenAny = (ranges: ConntrackQuery['ports'], bit: number): boolean => {
    for (const p of ranges ?? []) {
      const seen = ports.get(IPPROTO[p.proto])
      const [first, last] = [p.port, p.endPort ?? p.port]
      if (!seen || !Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > 65535) return true
      for (let port = first; port <= last; port++) if (((seen[port] ?? 0) & bit) !== 0) return true
    }
    return false
  }
  const resume = (): void => {
    if (pausedUntil === 0 || performance.now() < pausedUntil) return
    try {
      sock.addMembership(NFNLGRP_CONNTRACK_NEW)
      pausedUntil = 0
    } catch {} // still paused: asked again next time
  }

  return {
    async mayHold(query) {
      if (closed || disabled) return true
      if (!eventsOn()) {
        lose() // entries made while events are off announce nothing, ever: read the table after
        return true
      }
      resume()
      if (pausedUntil > 0) return true
      try {
        await barrier()
        if (lost || performance.now() - verifiedAt > verifyMs) await seed()
      } catch {
        return true
      }
      if (lost || disabled || pausedUntil > 0) return true
      for (const a of query.addresses ?? []) {
        const c = canonical(a)
        if (c === undefined || addresses.has(c)) return true
      }
      return seenAny(query.ports, PORT_SEEN) || seenAny(query.snatPorts, SNAT_PORT_SEEN)
    },
    mark: () => gen,
    forget(list, since) {
      forgets++
      for (const a of list) {
        const c = canonical(a)
        if (c !== undefined && (addresses.get(c) ?? 0) <= since) addresses.delete(c)
      }
    },
    invalidate: lose,
    close() {
      if (closed) return
      closed = true
      sock.removeAllListeners('message')
      sock.close()
    },
  }
}

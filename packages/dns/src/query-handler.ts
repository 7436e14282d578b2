import { Forwarder } from './forward.js'
import { answerLocally, type LocalZone } from './local-zone.js'
import { withId } from './message-id.js'
import type { ServerConfig } from './server-config.js'
import type { UpstreamSource } from './upstreams.js'
import { type ClientEdns, clientEdns, decodeMessage, encodeError, encodeResponse, type Message, RCODE } from './wire.js'

/** Counters of what the server did (for tests, logs and `inspect`). */
export interface DnsStats {
  /** Messages received (UDP datagrams and TCP messages). */
  queries: number
  /** Answered from the network's names (including NXDOMAIN/no data). */
  local: number
  /** Sent to an upstream and its answer relayed. */
  forwarded: number
  /** SERVFAIL: no upstream, none answered in time, or too many in flight. */
  servfail: number
  /** Answers cut to the header and question with TC set (the client retries over TCP). */
  truncated: number
  /** Dropped: not decodable, or a response rather than a query. */
  dropped: number
  /** Errors answered: FORMERR, NOTIMP, REFUSED, BADVERS. */
  refused: number
  /**
   * Dropped for their source: outside the network's subnets, or one of the server's own addresses
   * (spoofed, a host process, a routed outsider); TCP connections from such a source, closed.
   */
  foreign: number
  /** Dropped by the native loop: over their client's budget of questions it could not answer itself. */
  limited: number
}

const CACHE_MAX = 4096

/**
 * The server's logic, without sockets: a query's bytes in, the answer's bytes out (or nothing: a
 * message dropped). Local answers are synchronous, from a cache of dns-packet-encoded answers
 * keyed by the question exactly as asked (emptied whenever the names change); forwarded ones are
 * a promise.
 */
export class QueryHandler {
  readonly stats: DnsStats = {
    queries: 0,
    local: 0,
    forwarded: 0,
    servfail: 0,
    truncated: 0,
    dropped: 0,
    refused: 0,
    foreign: 0,
    limited: 0,
  }
  readonly #config: ServerConfig
  readonly #zone: LocalZone
  readonly #upstreams: UpstreamSource
  readonly #forwarder = new Forwarder()
  readonly #cache = new Map<string, Buffer>()
  #cacheGeneration = -1
  #inFlight = 0
  /**
   * Whether the last answer `handle` returned was the network's own (synchronous, the same for the
   * same query bytes until the names change): the native UDP loop may store it.
   */
  lastAnswerLocal = false
  #precomputing = false

  constructor(config: ServerConfig, upstreams: UpstreamSource) {
    this.#config = config
    this.#upstreams = upstreams
    this.#zone = { names: config.names, domain: config.domain, subnets: config.subnets, ttl: config.ttl }
  }

  /** Forwarded queries waiting for an upstream now. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Ends every forward in flight (their clients get SERVFAIL). */
  close(): void {
    this.#forwarder.close()
  }

  /**
   * The network's own answer to a UDP query from `client`, made now and not counted in the stats;
   * undefined when it is not the network's (nothing is forwarded). For the native loop's stored
   * answers, rebuilt when the names change.
   */
  precompute(msg: Buffer, client: string | undefined): Buffer | undefined {
    const saved = { ...this.stats }
    this.#precomputing = true
    try {
      const res = this.handle(msg, 'udp', client)
      return Buffer.isBuffer(res) && this.lastAnswerLocal ? res : undefined
    } finally {
      this.#precomputing = false
      Object.assign(this.stats, saved)
    }
  }

  /**
   * Answers one message that came over `proto`: over UDP an answer larger than the client's EDNS
   * size (512 without OPT) is cut to its header and question with TC set.
   */
  handle(msg: Buffer, proto: 'udp' | 'tcp', client?: string): Buffer | undefined | Promise<Buffer | undefined> {
    this.stats.queries++
    this.lastAnswerLocal = false
    const q = decodeMessage(msg)
    if (!q || q.type === 'response') {
      this.stats.dropped++
      return undefined
    }
    const edns = clientEdns(q)
    const limit = proto === 'udp' ? edns.udpLimit : 65535
    const ra = this.#config.forward
    if (q.opcode !== 'QUERY') return this.#error(q, RCODE.NOTIMP, edns)
    if (q.questions?.length !== 1) return this.#error(q, RCODE.FORMERR, edns)
    if (edns.version > 0) return this.#error(q, RCODE.BADVERS, edns)
    const local = this.#local(q, edns, client)
    if (local === null) return this.#error(q, RCODE.FORMERR, edns)
    if (local !== undefined) {
      this.stats.local++
      this.lastAnswerLocal = true
      return this.#fit(local, q, edns, limit)
    }
    if (!ra) return this.#error(q, RCODE.REFUSED, edns)
    if (this.#precomputing) return undefined
    return this.#forward(msg, q, edns, proto, limit)
  }

  /** The encoded local answer, undefined to forward, null when it cannot be encoded. */
  #local(q: Message, edns: ClientEdns, client: string | undefined): Buffer | undefined | null {
    const question = q.questions?.[0]
    if (!question) return null
    const names = this.#config.names
    if (names.generation !== this.#cacheGeneration) {
      this.#cache.clear()
      this.#cacheGeneration = names.generation
    }
    // When some entry is seen by some clients only, the answer depends on who asks.
    const who = names.scoped ? `${client ?? ''}|` : ''
    const key = `${who}${q.flag_rd ? 1 : 0}${q.flag_cd ? 1 : 0}${edns.present ? 1 : 0}${edns.dnssecOk ? 1 : 0}${question.type}/${question.class ?? ''}/${question.name}`
    const cached = this.#cache.get(key)
    if (cached) return withId(cached, q.id ?? 0)
    const answer = answerLocally(this.#zone, question, client)
    if (!answer) return undefined
    let encoded: Buffer
    try {
      encoded = encodeResponse(
        q,
        { rcode: answer.rcode, answers: answer.answers, authoritative: true, recursionAvailable: this.#config.forward },
        edns,
        0,
      )
    } catch {
      return null
    }
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear()
    this.#cache.set(key, encoded)
    return withId(encoded, q.id ?? 0)
  }

  /** The answer if it fits the client's limit; else the header and question with TC set. */
  #fit(res: Buffer, q: Message, edns: ClientEdns, limit: number): Buffer | undefined {
    if (res.length <= limit) return res
    this.stats.truncated++
    try {
      return encodeResponse(
        q,
        { rcode: RCODE.NOERROR, authoritative: false, recursionAvailable: this.#config.forward, truncated: true },
        edns,
      )
    } catch {
      return undefined
    }
  }

  #error(q: Message, rcode: number, edns: ClientEdns): Buffer | undefined {
    if (rcode === RCODE.SERVFAIL) this.stats.servfail++
    else this.stats.refused++
    return encodeError(q, rcode, edns, this.#config.forward)
  }

  async #forward(
    msg: Buffer,
    q: Message,
    edns: ClientEdns,
    proto: 'udp' | 'tcp',
    limit: number,
  ): Promise<Buffer | undefined> {
    const upstreams = this.#upstreams.current()
    if (upstreams.length === 0 || this.#inFlight >= this.#config.maxForwards) {
      return this.#error(q, RCODE.SERVFAIL, edns)
    }
    this.#inFlight++
    try {
      const response = await this.#forwarder.forward(msg, q, upstreams, proto, this.#config.forwardTimeoutMs)
      if (!response) return this.#error(q, RCODE.SERVFAIL, edns)
      this.stats.forwarded++
      return this.#fit(response, q, edns, limit)
    } finally {
      this.#inFlight--
    }
  }
}

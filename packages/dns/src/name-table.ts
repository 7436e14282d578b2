import { type IPAddress, tryParseAddress } from '@cnm/ip'
import { invalidConfig } from './errors.js'
import { normalizeName } from './names.js'

/** What one endpoint contributes to a network's names (the daemon's view of an endpoint). */
export interface DnsEntry {
  /** The caller's key for this entry (an endpoint id): `set` with the same id replaces it. */
  readonly id: string
  /** The name the addresses' PTR records answer (the container's name), also an A/AAAA name. */
  readonly name: string
  /** More names answering A/AAAA with the same addresses: endpoint name, container id, aliases. */
  readonly aliases?: readonly string[]
  /** The endpoint's addresses on this network, IPv4 and IPv6 (at least one). */
  readonly addresses: readonly string[]
  /**
   * Only queries from these client addresses see this entry (default: every client). For a
   * sandbox on two networks: the other network's endpoints, put in this network's table, visible
   * to the sandbox's own address here and to nobody else.
   */
  readonly clients?: readonly string[]
}

/** The addresses a name answers, by family, in the order the entries were set. */
export interface NameAddresses {
  readonly ipv4: readonly string[]
  readonly ipv6: readonly string[]
}

/** One change of a table, as its listeners hear it (enough to replay it on another table). */
export type NameChange =
  | { readonly type: 'set'; readonly entry: DnsEntry }
  | { readonly type: 'delete'; readonly id: string }
  | { readonly type: 'clear' }

interface Stored {
  readonly entry: DnsEntry
  readonly names: readonly string[]
  readonly addresses: readonly IPAddress[]
  /** Canonical client addresses that see it, or undefined: everyone. */
  readonly clients: ReadonlySet<string> | undefined
}

/**
 * The names of one network: what its DNS server answers from. Updated by the owner (the daemon,
 * from its endpoints); a change is seen by the very next query. Names are case-insensitive.
 * Names of other networks are simply not here, so they are NXDOMAIN.
 */
export class NameTable {
  readonly #byId = new Map<string, Stored>()
  readonly #byName = new Map<string, Set<string>>()
  readonly #byAddress = new Map<string, Set<string>>()
  /** Answers of names that exist (never misses: random names must not grow it). */
  readonly #resolved = new Map<string, NameAddresses>()
  readonly #listeners = new Set<(change: NameChange) => void>()
  #generation = 0
  #scoped = 0

  /** Increases on every change (the server's answer cache keys on it). */
  get generation(): number {
    return this.#generation
  }

  /** How many entries the table holds. */
  get size(): number {
    return this.#byId.size
  }

  /** Whether some entry is seen only by some clients (then answers depend on the client). */
  get scoped(): boolean {
    return this.#scoped > 0
  }

  /**
   * Adds an entry, or replaces the one with the same id. Everything is validated first: a bad
   * name, alias or address throws (`ERR_INVALID_DNS_NAME`, `ERR_INVALID_DNS_CONFIG`) and leaves
   * the table as it was.
   */
  set(entry: DnsEntry): void {
    const stored = validate(entry)
    const old = this.#byId.get(stored.entry.id)
    if (old) this.#unindex(old)
    this.#byId.set(stored.entry.id, stored)
    this.#index(stored)
    this.#changed({ type: 'set', entry: stored.entry })
  }

  /** Removes the entry with this id; false when there was none. */
  delete(id: string): boolean {
    const old = this.#byId.get(id)
    if (!old) return false
    this.#unindex(old)
    this.#byId.delete(id)
    this.#changed({ type: 'delete', id })
    return true
  }

  /** Removes every entry. */
  clear(): void {
    if (this.#byId.size === 0) return
    this.#byId.clear()
    this.#byName.clear()
    this.#byAddress.clear()
    this.#scoped = 0
    this.#changed({ type: 'clear' })
  }

  /** The entry with this id, as it was set (names normalised, addresses canonical). */
  get(id: string): DnsEntry | undefined {
    return this.#byId.get(id)?.entry
  }

  /** Every entry, in the order they were first set. */
  entries(): DnsEntry[] {
    return [...this.#byId.values()].map((s) => s.entry)
  }

  /**
   * The addresses a name answers (any case, trailing dot or not) for a query from `client` (an
   * entry with `clients` is seen only by those), or undefined if no entry it sees has the name.
   */
  lookup(name: string, client?: string): NameAddresses | undefined {
    const key = name.toLowerCase().replace(/\.$/u, '')
    if (this.#scoped > 0) return this.#resolve(key, client)
    let hit = this.#resolved.get(key)
    if (hit === undefined) {
      hit = this.#resolve(key, undefined)
      if (hit) this.#resolved.set(key, hit)
    }
    return hit
  }

  /** The names whose PTR an address answers for `client` (each entry's `name`), empty when none. */
  reverse(address: string | IPAddress, client?: string): string[] {
    const a = typeof address === 'string' ? tryParseAddress(address) : address
    const ids = a ? this.#byAddress.get(a.text) : undefined
    if (!ids) return []
    const names = new Set<string>()
    for (const id of ids) {
      const s = this.#byId.get(id)
      if (s && sees(s, client)) names.add(s.entry.name)
    }
    return [...names]
  }

  /** Applies a change heard from another table (a mirror in another thread). */
  apply(change: NameChange): void {
    if (change.type === 'set') this.set(change.entry)
    else if (change.type === 'delete') this.delete(change.id)
    else this.clear()
  }

  /** Calls `listener` after every change, with the change; returns the function that stops it. */
  onChange(listener: (change: NameChange) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #resolve(key: string, client: string | undefined): NameAddresses | undefined {
    const ids = this.#byName.get(key)
    if (!ids) return undefined
    const ipv4 = new Set<string>()
    const ipv6 = new Set<string>()
    let seen = false
    for (const id of ids) {
      const s = this.#byId.get(id)
      if (!s || !sees(s, client)) continue
      seen = true
      for (const a of s.addresses) (a.family === 4 ? ipv4 : ipv6).add(a.text)
    }
    return seen ? { ipv4: [...ipv4], ipv6: [...ipv6] } : undefined
  }

  #index(s: Stored): void {
    if (s.clients) this.#scoped++
    for (const n of s.names) addTo(this.#byName, n, s.entry.id)
    for (const a of s.addresses) addTo(this.#byAddress, a.text, s.entry.id)
  }

  #unindex(s: Stored): void {
    if (s.clients) this.#scoped--
    for (const n of s.names) removeFrom(this.#byName, n, s.entry.id)
    for (const a of s.addresses) removeFrom(this.#byAddress, a.text, s.entry.id)
  }

  #changed(change: NameChange): void {
    this.#generation++
    this.#resolved.clear()
    for (const l of this.#listeners) l(change)
  }
}

function validate(entry: DnsEntry): Stored {
  if (typeof entry !== 'object' || entry === null) throw invalidConfig('a DNS entry must be an object')
  const { id } = entry
  if (typeof id !== 'string' || id.length === 0) throw invalidConfig(`DNS entry id ${JSON.stringify(id)}: not a string`)
  const name = normalizeName(entry.name, `name of entry ${id}`)
  const aliases = (entry.aliases ?? []).map((a) => normalizeName(a, `alias of entry ${id}`))
  if (!Array.isArray(entry.addresses) || entry.addresses.length === 0) {
    throw invalidConfig(`DNS entry ${id} (${name}) has no addresses`)
  }
  const addresses = entry.addresses.map((text) => {
    const a = tryParseAddress(text)
    if (!a) throw invalidConfig(`DNS entry ${id} (${name}): invalid IP address ${JSON.stringify(text)}`)
    return a
  })
  const unique = [...new Map(addresses.map((a) => [a.text, a])).values()]
  const names = [...new Set([name, ...aliases])]
  const clients = entry.clients === undefined ? undefined : validClients(entry.clients, id, name)
  return {
    entry: Object.freeze({
      id,
      name,
      aliases: Object.freeze(names.slice(1)),
      addresses: Object.freeze(unique.map((a) => a.text)),
      ...(clients ? { clients: Object.freeze([...clients]) } : {}),
    }),
    names,
    addresses: unique,
    clients,
  }
}

function validClients(clients: readonly string[], id: string, name: string): Set<string> {
  if (!Array.isArray(clients) || clients.length === 0) {
    throw invalidConfig(`DNS entry ${id} (${name}): \`clients\` must list at least one address (omit it for everyone)`)
  }
  return new Set(
    clients.map((text) => {
      const a = tryParseAddress(text)
      if (!a) throw invalidConfig(`DNS entry ${id} (${name}): invalid client address ${JSON.stringify(text)}`)
      return a.text
    }),
  )
}

/** Whether a query from `client` sees the entry (an IPv4-mapped IPv6 client counts as its IPv4). */
function sees(s: Stored, client: string | undefined): boolean {
  if (!s.clients) return true
  if (client === undefined) return false
  const a = tryParseAddress(client.startsWith('::ffff:') ? client.slice(7) : client)
  return a !== undefined && s.clients.has(a.text)
}

function addTo(map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key)
  if (!set) {
    set = new Set()
    map.set(key, set)
  }
  set.add(id)
}

function removeFrom(map: Map<string, Set<string>>, key: string, id: string): void {
  const set = map.get(key)
  if (!set) return
  set.delete(id)
  if (set.size === 0) map.delete(key)
}

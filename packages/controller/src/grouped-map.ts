/**
 * A `Map` that also keeps its values grouped by one of their fields (an endpoint's network, a
 * join's sandbox, a sandbox's key), kept current on every `set`, `delete` and `clear`. The
 * controller's tables are these: with thousands of endpoints and sandboxes, "the joins of this
 * sandbox" or "the endpoint named N on this network" is a look-up, not a scan of every row per
 * request. The field a value is grouped by must not change while the value is in the map (a row
 * is replaced with `set`, never edited in place).
 */
export class GroupedMap<K, V, G> extends Map<K, V> {
  readonly #groupOf: (value: V) => G
  readonly #groups = new Map<G, Map<K, V>>()

  constructor(groupOf: (value: V) => G, entries?: Iterable<readonly [K, V]>) {
    super()
    this.#groupOf = groupOf
    if (entries) for (const [k, v] of entries) this.set(k, v)
  }

  override set(key: K, value: V): this {
    const g = this.#groupOf(value)
    if (super.has(key)) {
      const old = super.get(key) as V
      // A row replaced within its group keeps its place there, as it does in the map.
      if (this.#groupOf(old) === g) {
        super.set(key, value)
        this.#groups.get(g)?.set(key, value)
        return this
      }
      this.#ungroup(key, old)
    }
    super.set(key, value)
    let group = this.#groups.get(g)
    if (!group) {
      group = new Map()
      this.#groups.set(g, group)
    }
    group.set(key, value)
    return this
  }

  override delete(key: K): boolean {
    if (!super.has(key)) return false
    this.#ungroup(key, super.get(key) as V)
    return super.delete(key)
  }

  override clear(): void {
    this.#groups.clear()
    super.clear()
  }

  /** The values in one group, as a snapshot (safe to change the map while going through it). */
  inGroup(group: G): V[] {
    const g = this.#groups.get(group)
    return g ? [...g.values()] : []
  }

  /** How many values one group holds. */
  groupSize(group: G): number {
    return this.#groups.get(group)?.size ?? 0
  }

  /** The first value of one group (for a field that is unique, such as a sandbox's key). */
  firstInGroup(group: G): V | undefined {
    const g = this.#groups.get(group)
    if (!g) return undefined
    for (const v of g.values()) return v
    return undefined
  }

  #ungroup(key: K, old: V): void {
    const g = this.#groupOf(old)
    const group = this.#groups.get(g)
    if (!group) return
    group.delete(key)
    if (group.size === 0) this.#groups.delete(g)
  }
}

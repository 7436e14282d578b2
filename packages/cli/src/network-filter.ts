import type { Network } from '@cnm/client'
import { invalidArgument } from './errors.js'
import { hasLabel } from './prune-filters.js'

/** The filters `network ls` and `network prune` take, as Docker's `--filter key=value`. */
export const NETWORK_FILTER_KEYS = ['name', 'id', 'driver', 'label', 'scope', 'type'] as const
type FilterKey = (typeof NETWORK_FILTER_KEYS)[number]

/** Parsed `--filter`s: values of one key are alternatives (OR), different keys all apply (AND). */
export type NetworkFilters = Map<FilterKey, string[]>

/** Parses `--filter key=value` texts; an unknown key or a missing `=` is ERR_INVALID_ARGUMENT naming it. */
export function parseNetworkFilters(texts: readonly string[] = []): NetworkFilters {
  const out: NetworkFilters = new Map()
  for (const text of texts) {
    const eq = text.indexOf('=')
    const key = eq < 0 ? text : text.slice(0, eq)
    if (eq < 0) throw invalidArgument(`--filter ${JSON.stringify(text)} must be key=value`)
    if (!(NETWORK_FILTER_KEYS as readonly string[]).includes(key)) {
      throw invalidArgument(
        `--filter ${JSON.stringify(text)}: unknown filter ${JSON.stringify(key)} (one of ${NETWORK_FILTER_KEYS.join(', ')})`,
      )
    }
    const value = text.slice(eq + 1)
    if (key === 'type' && value !== 'custom' && value !== 'builtin') {
      throw invalidArgument(`--filter ${JSON.stringify(text)}: type is custom or builtin`)
    }
    out.set(key as FilterKey, [...(out.get(key as FilterKey) ?? []), value])
  }
  return out
}

/** A network's scope (`local` unless its JSON says otherwise). */
function scopeOf(n: Network): string {
  const scope = (n as { scope?: unknown }).scope
  return typeof scope === 'string' ? scope : 'local'
}

function matchOne(n: Network, key: FilterKey, value: string): boolean {
  switch (key) {
    case 'name':
      return n.name.includes(value) // Docker: a partial match
    case 'id':
      return n.id.startsWith(value)
    case 'driver':
      return n.driver === value
    case 'scope':
      return scopeOf(n) === value
    case 'type':
      return value === 'custom' // every cnm network is user-defined
    case 'label':
      return hasLabel(n.labels ?? {}, value)
  }
}

/** Whether a network passes every filter. */
export function matchesNetwork(n: Network, filters: NetworkFilters): boolean {
  for (const [key, values] of filters) if (!values.some((v) => matchOne(n, key, v))) return false
  return true
}

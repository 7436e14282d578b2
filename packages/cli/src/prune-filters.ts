import type { NetworkPrune } from '@cnm/client'
import { invalidArgument } from './errors.js'

/** Go's duration units (`time.ParseDuration`), in milliseconds. */
const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
}
const DURATION = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/u
const DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gu

/**
 * Docker's `until` (a prune filter) as a time in milliseconds: a Unix timestamp (`1700000000`,
 * fractions allowed), an RFC 3339 date (`2026-12-01T10:00:00Z`, `2026-12-01`), or a Go duration
 * before `now` (`10m`, `1h30m`, `24h`). Anything else is ERR_INVALID_ARGUMENT.
 */
export function parseUntil(text: string, now: number = Date.now()): number {
  if (/^\d+(?:\.\d+)?$/u.test(text)) return Number(text) * 1000
  if (DURATION.test(text)) {
    let ms = 0
    for (const m of text.matchAll(DURATION_PART)) ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
    return now - ms
  }
  const t = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/u.test(text)
    ? Date.parse(text)
    : Number.NaN
  if (Number.isNaN(t)) {
    throw invalidArgument(
      `until ${JSON.stringify(text)} is not a Unix timestamp, an RFC 3339 date or a duration (10m, 24h)`,
    )
  }
  return t
}

/** Whether `labels` has the label `spec` names: `KEY` (any value) or `KEY=VALUE`. */
export function hasLabel(labels: Readonly<Record<string, string>>, spec: string): boolean {
  const eq = spec.indexOf('=')
  return eq < 0 ? Object.hasOwn(labels, spec) : labels[spec.slice(0, eq)] === spec.slice(eq + 1)
}

/** The prune filters, checked: `until` as milliseconds, the label lists as given. */
export interface PruneFilters {
  until: number | undefined
  label: readonly string[]
  labelNot: readonly string[]
}

/** Checks a prune request's filters before anything is removed. */
export function parsePruneFilters(body: NetworkPrune, now: number = Date.now()): PruneFilters {
  for (const spec of [...(body.label ?? []), ...(body.labelNot ?? [])]) {
    if (spec === '' || spec.startsWith('=')) throw invalidArgument(`label filter ${JSON.stringify(spec)} needs a key`)
  }
  return {
    until: body.until === undefined ? undefined : parseUntil(body.until, now),
    label: body.label ?? [],
    labelNot: body.labelNot ?? [],
  }
}

/** Whether a network (its labels and creation time) passes every prune filter (Docker's rules). */
export function matchesPrune(
  net: { labels?: Readonly<Record<string, string>> | undefined; created?: string | undefined },
  f: PruneFilters,
): boolean {
  if (f.until !== undefined) {
    const created = net.created === undefined ? Number.NaN : Date.parse(net.created)
    if (!(created < f.until)) return false
  }
  const labels = net.labels ?? {}
  return f.label.every((l) => hasLabel(labels, l)) && !f.labelNot.some((l) => hasLabel(labels, l))
}

/** `network prune --filter key=value` texts as the REST body (`until`, `label`, `label!`; Docker's keys). */
export function pruneFilterBody(texts: readonly string[] = []): NetworkPrune {
  const out: { until?: string; label?: string[]; labelNot?: string[] } = {}
  for (const text of texts) {
    const eq = text.indexOf('=')
    const key = eq < 0 ? text : text.slice(0, eq)
    const value = text.slice(eq + 1)
    if (eq < 0) throw invalidArgument(`--filter ${JSON.stringify(text)} must be key=value`)
    if (key === 'until') {
      if (out.until !== undefined) throw invalidArgument('--filter until is given twice')
      parseUntil(value)
      out.until = value
    } else if (key === 'label') {
      out.label = [...(out.label ?? []), value]
    } else if (key === 'label!') {
      out.labelNot = [...(out.labelNot ?? []), value]
    } else {
      throw invalidArgument(`--filter ${JSON.stringify(text)}: network prune filters are until, label and label!`)
    }
  }
  parsePruneFilters(out)
  return out
}

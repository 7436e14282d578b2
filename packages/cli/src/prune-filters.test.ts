import { describe, expect, it } from 'vitest'
import { hasLabel, matchesPrune, parsePruneFilters, parseUntil, pruneFilterBody } from './prune-filters.js'

const NOW = Date.parse('2026-12-02T12:00:00Z')

describe('parseUntil (Docker’s until filter)', () => {
  it.each([
    ['1700000000', 1_700_000_000_000],
    ['1700000000.5', 1_700_000_000_500],
    ['2026-12-01T10:00:00Z', Date.parse('2026-12-01T10:00:00Z')],
    ['2026-12-01', Date.parse('2026-12-01')],
    ['24h', NOW - 86_400_000],
    ['1h30m', NOW - 5_400_000],
    ['10m', NOW - 600_000],
    ['90s', NOW - 90_000],
  ])('%s', (text, ms) => expect(parseUntil(text, NOW)).toBe(ms))

  it.each(['yesterday', '-5m', '10 m', '2026-13-45T99:00:00Z', 'x1h'])('refuses %j', (text) => {
    expect(() => parseUntil(text, NOW)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
  })
})

describe('label matching', () => {
  const labels = { env: 'prod', empty: '' }
  it('KEY matches any value, KEY=VALUE only that value', () => {
    expect(hasLabel(labels, 'env')).toBe(true)
    expect(hasLabel(labels, 'env=prod')).toBe(true)
    expect(hasLabel(labels, 'env=dev')).toBe(false)
    expect(hasLabel(labels, 'empty=')).toBe(true)
    expect(hasLabel(labels, 'team')).toBe(false)
  })
})

describe('prune filters', () => {
  const old = { labels: { keep: 'yes' }, created: '2026-11-01T00:00:00Z' }
  const fresh = { labels: { env: 'dev' }, created: '2026-12-02T11:59:00Z' }
  const pick = (body: Parameters<typeof parsePruneFilters>[0]): boolean[] =>
    [old, fresh].map((n) => matchesPrune(n, parsePruneFilters(body, NOW)))

  it('until keeps networks created at or after the time', () => {
    expect(pick({ until: '24h' })).toEqual([true, false])
  })
  it('label must all match; label! must all miss', () => {
    expect(pick({ label: ['env'] })).toEqual([false, true])
    expect(pick({ labelNot: ['keep'] })).toEqual([false, true])
    expect(pick({ label: ['env=dev'], until: '1m' })).toEqual([false, false])
    expect(pick({})).toEqual([true, true])
  })
  it('the CLI’s --filter texts become the REST body; other keys are refused as Docker refuses them', () => {
    expect(pruneFilterBody(['until=24h', 'label=a', 'label=b=c', 'label!=keep'])).toEqual({
      until: '24h',
      label: ['a', 'b=c'],
      labelNot: ['keep'],
    })
    expect(() => pruneFilterBody(['name=x'])).toThrow('network prune filters are until, label and label!')
    expect(() => pruneFilterBody(['until=soon'])).toThrow('is not a Unix timestamp')
    expect(() => pruneFilterBody(['label='])).toThrow('needs a key')
  })
})

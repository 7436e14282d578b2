import type { Network } from '@cnm/client'
import { describe, expect, it } from 'vitest'
import { matchesNetwork, parseNetworkFilters } from './network-filter.js'

const net = (name: string, id: string, driver = 'bridge', extra: Record<string, unknown> = {}): Network =>
  ({ id, name, driver, options: {}, internal: false, icc: true, endpoints: [], ...extra }) as Network

const nets = [
  net('front', 'aaa111'),
  net('back', 'bbb222', 'macvlan'),
  net('frontier', 'ccc333', 'bridge', { labels: { env: 'prod', team: 'x' } }),
]
const pick = (filters: string[]): string[] =>
  nets.filter((n) => matchesNetwork(n, parseNetworkFilters(filters))).map((n) => n.name)

describe('network --filter (as docker network ls)', () => {
  it('name (partial), id (prefix), driver, scope, type, label; one key OR, several keys AND', () => {
    expect(pick(['name=front'])).toEqual(['front', 'frontier'])
    expect(pick(['id=bbb'])).toEqual(['back'])
    expect(pick(['driver=bridge'])).toEqual(['front', 'frontier'])
    expect(pick(['driver=bridge', 'name=tier'])).toEqual(['frontier'])
    expect(pick(['name=back', 'name=tier'])).toEqual(['back', 'frontier'])
    expect(pick(['scope=local'])).toHaveLength(3)
    expect(pick(['scope=swarm'])).toEqual([])
    expect(pick(['type=custom'])).toHaveLength(3)
    expect(pick(['type=builtin'])).toEqual([])
    expect(pick(['label=env'])).toEqual(['frontier'])
    expect(pick(['label=env=prod'])).toEqual(['frontier'])
    expect(pick(['label=env=dev'])).toEqual([])
  })

  it.each([
    ['colour=red', 'unknown filter "colour"'],
    ['name', 'must be key=value'],
    ['type=mine', 'type is custom or builtin'],
  ])('refuses %s', (text, words) => {
    expect(() => parseNetworkFilters([text])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining(words) }),
    )
  })
})

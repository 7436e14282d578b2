import type { Network, NetworkController, Sandbox } from '@cnm/controller'
import { describe, expect, it } from 'vitest'
import { ERR_AMBIGUOUS_REFERENCE } from './errors.js'
import { findEndpoint, findNetwork, findSandbox } from './refs.js'

const net = (id: string, name: string, endpoints: { id: string; name: string }[] = []): Network =>
  ({ id, name, endpoints: () => endpoints }) as unknown as Network
const sb = (id: string, containerID: string, key: string): Sandbox => ({ id, containerID, key }) as unknown as Sandbox
const controller = (networks: Network[], sandboxes: Sandbox[] = []): NetworkController =>
  ({
    networks: () => networks,
    sandboxes: () => sandboxes,
    sandboxByRef: (ref: string) => sandboxes.find((s) => s.id === ref || s.containerID === ref || s.key === ref),
  }) as unknown as NetworkController

describe('references (name, id, unique id prefix)', () => {
  const c = controller(
    [net('abc111', 'front'), net('abc222', 'back'), net('ffe000', 'abc')],
    [sb('5aa', 'web', '/run/cnm/netns/web'), sb('5ab', 'db', '/x/db')],
  )

  it('finds by exact name or id first, then by a unique id prefix', () => {
    expect(findNetwork(c, 'front').id).toBe('abc111')
    expect(findNetwork(c, 'abc222').name).toBe('back')
    expect(findNetwork(c, 'abc').id).toBe('ffe000') // a name beats an id prefix
    expect(findNetwork(c, 'abc1').name).toBe('front')
    expect(findSandbox(c, 'web').id).toBe('5aa')
    expect(findSandbox(c, '/x/db').id).toBe('5ab')
    expect(findSandbox(c, '5ab').containerID).toBe('db')
    expect(findEndpoint(net('n1', 'n', [{ id: 'e12', name: 'one' }]), 'e1').name).toBe('one')
  })

  it('refuses unknown and ambiguous references, naming them', () => {
    expect(() => findNetwork(c, 'nope')).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_NETWORK', message: 'unknown network nope' }),
    )
    expect(() => findNetwork(c, 'ab')).toThrow(
      expect.objectContaining({ code: ERR_AMBIGUOUS_REFERENCE, message: 'network id prefix ab matches 2 networks' }),
    )
    expect(() => findSandbox(c, '5a')).toThrow(expect.objectContaining({ code: ERR_AMBIGUOUS_REFERENCE }))
    expect(() => findSandbox(c, '')).toThrow(expect.objectContaining({ code: 'ERR_UNKNOWN_SANDBOX' }))
    expect(() => findEndpoint(net('n1', 'n'), 'x')).toThrow('unknown endpoint x in network n')
  })
})

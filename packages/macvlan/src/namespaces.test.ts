import { describe, expect, it } from 'vitest'
import { parseAlias } from './marks.js'
import { macFromIPv4 } from './names.js'
import { boundNetnsPaths } from './namespaces.js'

describe('bound network namespaces', () => {
  it('reads nsfs mounts of network namespaces only, with escaped paths', () => {
    const mountinfo = [
      '22 1 0:21 / /proc rw,nosuid - proc proc rw',
      '610 25 0:4 net:[4026532301] /run/cnm/netns/a rw - nsfs nsfs rw',
      '611 25 0:4 net:[4026532302] /run/my\\040dir/b rw,relatime shared:5 - nsfs nsfs rw',
      '612 25 0:4 mnt:[4026532303] /run/mnt-ns rw - nsfs nsfs rw',
      '613 25 0:4 net:[4026532301] /run/cnm/netns/a rw - nsfs nsfs rw',
    ].join('\n')
    expect(boundNetnsPaths(mountinfo)).toEqual(['/run/cnm/netns/a', '/run/my dir/b'])
  })
})

describe('marks and names', () => {
  it('reads cnm aliases', () => {
    expect(parseAlias('cnm:o:endpoint:n:e')).toEqual({ owner: 'o', network: 'n', endpoint: 'e' })
    expect(parseAlias('cnm:o:network:n')).toEqual({ owner: 'o', network: 'n' })
    expect(parseAlias('cnm:o:endpoint:n')).toBeUndefined()
    expect(parseAlias('something else')).toBeUndefined()
  })

  it('derives the MAC from the IPv4 address as Docker does', () => {
    expect(macFromIPv4('192.168.50.2')).toBe('02:42:c0:a8:32:02')
  })
})

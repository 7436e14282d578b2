import { describe, expect, it } from 'vitest'
import type { ConntrackEntry, ConntrackTuple } from './conntrack-codec.js'
import { type ConntrackMatch, compileMatch, compileMatches } from './conntrack-match.js'

const tuple = (src: string, sport: number, dst: string, dport: number, proto = 17): ConntrackTuple => ({
  src,
  dst,
  proto,
  srcPort: sport,
  dstPort: dport,
})

const entry = (family: 4 | 6, original: ConntrackTuple, reply: ConntrackTuple): ConntrackEntry => ({
  family,
  original,
  reply,
  id: 1,
  zone: 0,
  status: 0,
})

// A client of "another machine" sending to the host's published port 8080, DNAT-ed to a container.
const published = entry(
  4,
  tuple('198.51.100.2', 40000, '198.51.100.1', 8080),
  tuple('10.0.0.2', 80, '198.51.100.2', 40000),
)
// The same, before the port was published: no NAT, the reply would come from the host.
const stale = entry(
  4,
  tuple('198.51.100.2', 40001, '198.51.100.1', 8080),
  tuple('198.51.100.1', 8080, '198.51.100.2', 40001),
)
// The host's own flow to a remote server's port 8080: must never be taken for a published port.
const outgoing = entry(
  4,
  tuple('198.51.100.1', 50000, '203.0.113.9', 8080),
  tuple('203.0.113.9', 8080, '198.51.100.1', 50000),
)
// A container's own flow out (SNAT-ed by masquerade).
const fromContainer = entry(
  4,
  tuple('10.0.0.2', 33000, '203.0.113.9', 53),
  tuple('203.0.113.9', 53, '198.51.100.1', 33000),
)
const tcp = entry(
  4,
  tuple('198.51.100.2', 40002, '198.51.100.1', 8080, 6),
  tuple('10.0.0.2', 80, '198.51.100.2', 40002, 6),
)
const v6 = entry(6, tuple('2001:db8::2', 40000, '2001:db8::1', 8080), tuple('fd00::2', 80, '2001:db8::2', 40000))
const ALL = [published, stale, outgoing, fromContainer, tcp, v6]

const selected = (m: ConntrackMatch | ConntrackMatch[]): ConntrackEntry[] => ALL.filter(compileMatches(m))

describe('conntrack matches', () => {
  it('selects a host port by protocol, original destination port and host address', () => {
    expect(selected({ proto: 'udp', port: 8080, destination: '198.51.100.1' })).toEqual([published, stale])
    expect(selected({ proto: 'udp', port: 8080 })).toEqual([published, stale, outgoing, v6])
    expect(selected({ proto: 'tcp', port: 8080, destination: '198.51.100.1' })).toEqual([tcp])
    expect(selected({ proto: 'udp', port: 8080, family: 6 })).toEqual([v6])
    expect(selected({ proto: 'udp', port: 8081 })).toEqual([])
  })

  it('takes port ranges, prefixes and lists of destinations', () => {
    expect(selected({ proto: 'udp', port: 8000, endPort: 8080, destination: '198.51.100.0/24' })).toEqual([
      published,
      stale,
    ])
    expect(selected({ proto: 'udp', port: 8080, destination: ['192.0.2.1', '2001:db8:0:0::1'] })).toEqual([v6])
    expect(selected({ proto: 'udp', port: 8080, destination: [] })).toEqual([])
  })

  it('selects a container address before or after NAT: reply source, original source or destination', () => {
    expect(selected({ address: '10.0.0.2' })).toEqual([published, fromContainer, tcp])
    expect(selected({ address: 'fd00:0::2' })).toEqual([v6])
    expect(selected({ address: '203.0.113.9' })).toEqual([outgoing, fromContainer])
  })

  it("selects flows of a prefix but those of the addresses still in use (a restart's sweep)", () => {
    expect(selected({ address: '10.0.0.0/24' })).toEqual([published, fromContainer, tcp])
    expect(selected({ address: '10.0.0.0/24', except: ['10.0.0.2'] })).toEqual([])
    expect(selected({ address: '10.0.0.0/24', except: ['10.0.0.3'] })).toEqual([published, fromContainer, tcp])
    expect(selected({ address: 'fd00::/64', except: ['fd00:0:0::2'] })).toEqual([])
    expect(selected({ address: 'fd00::/64' })).toEqual([v6])
    expect(selected({ address: '203.0.113.0/24', except: [] })).toEqual([outgoing, fromContainer])
  })

  it('selects a source-NATed flow by the host port and address its source was translated to (reply destination)', () => {
    // A container's flow masqueraded to a random port: the reply comes to the host's 61000.
    const remapped = entry(
      4,
      tuple('10.0.0.3', 8080, '203.0.113.9', 53),
      tuple('203.0.113.9', 53, '198.51.100.1', 61000),
    )
    const some = [...ALL, remapped]
    const picked = (m: ConntrackMatch): ConntrackEntry[] => some.filter(compileMatch(m))
    // The source port masquerade kept (33000) is the reply's destination port.
    expect(picked({ proto: 'udp', replyPort: 33000 })).toEqual([fromContainer])
    expect(picked({ proto: 'udp', replyPort: 33000, replyDestination: '198.51.100.1', snat: true })).toEqual([
      fromContainer,
    ])
    expect(
      picked({ proto: 'udp', replyPort: 32000, replyEndPort: 34000, replyDestination: ['198.51.100.0/24'] }),
    ).toEqual([fromContainer])
    expect(picked({ proto: 'udp', replyPort: 8080 })).toEqual([]) // the container's own port is not the host's
    expect(picked({ proto: 'udp', replyPort: 61000, snat: true })).toEqual([remapped])
    // A DNAT-ed flow's reply goes back to its client, untranslated: not source-NATed.
    expect(picked({ replyPort: 40000 })).toEqual([published, v6])
    expect(picked({ replyPort: 40000, snat: true })).toEqual([])
    // The host's own flow from its port 50000: the same reply port, but no translation.
    expect(picked({ proto: 'udp', replyPort: 50000, replyDestination: '198.51.100.1' })).toEqual([outgoing])
    expect(picked({ proto: 'udp', replyPort: 50000, snat: true })).toEqual([])
    expect(picked({ proto: 'udp', replyPort: 50000, snat: false })).toEqual([outgoing])
    // Another host address, or none at all, and the wrong protocol select nothing.
    expect(picked({ proto: 'udp', replyPort: 33000, replyDestination: '198.51.100.7' })).toEqual([])
    expect(picked({ proto: 'udp', replyPort: 33000, replyDestination: [] })).toEqual([])
    expect(picked({ proto: 'tcp', replyPort: 33000 })).toEqual([])
    expect(picked({ replyDestination: '2001:db8::2' })).toEqual([v6])
    // Both directions' ports must hold.
    expect(picked({ port: 53, replyPort: 33000 })).toEqual([fromContainer])
    expect(picked({ port: 8080, replyPort: 33000 })).toEqual([])
  })

  it('selects what any match of a list selects', () => {
    expect(selected([{ address: 'fd00::2' }, { proto: 'tcp', port: 8080 }])).toEqual([tcp, v6])
    expect(selected([])).toEqual([])
  })

  it('refuses a match that would select everything, and bad ports, protocols and addresses', () => {
    const bad: [unknown, string][] = [
      [{}, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ proto: 'udp' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ family: 4 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 0 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 70000 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 80.5 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 90, endPort: 80 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ endPort: 80, address: '10.0.0.1' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 80, proto: 'icmp' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ port: 80, family: 5 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ address: '10.0.0.1', family: 6 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [null, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ address: '10.0.0.256' }, 'ERR_INVALID_ADDRESS'],
      [{ address: '10.0.0.0/33' }, 'ERR_INVALID_ADDRESS'],
      [{ address: '10.0.0.1', except: ['10.0.0.2'] }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ address: '10.0.0.0/24', except: '10.0.0.2' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ address: '10.0.0.0/24', except: ['10.0.0.x'] }, 'ERR_INVALID_ADDRESS'],
      [{ address: '10.0.0.0/24', family: 6 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ address: '0.0.0.0/0', except: ['10.0.0.2'] }, 'ERR_INVALID_CONNTRACK_MATCH'], // every flow of a family
      [{ address: '::/0' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ destination: 'fe80::1%eth0' }, 'ERR_INVALID_ADDRESS'],
      [{ destination: ['10.0.0.1', '10.0.0.0/33'] }, 'ERR_INVALID_ADDRESS'],
      [{ destination: 5 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ snat: true }, 'ERR_INVALID_CONNTRACK_MATCH'], // every masqueraded flow: not a selector
      [{ snat: true, proto: 'udp', family: 4 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: 80, snat: 'yes' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: 0 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: 65536 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: '80' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: 90, replyEndPort: 80 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyPort: 80, replyEndPort: 70000 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyEndPort: 80, address: '10.0.0.1' }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyEndPort: 80, port: 80 }, 'ERR_INVALID_CONNTRACK_MATCH'],
      [{ replyDestination: '10.0.0.0/33' }, 'ERR_INVALID_ADDRESS'],
      [{ replyPort: 80, replyDestination: ['10.0.0.1', 'host'] }, 'ERR_INVALID_ADDRESS'],
      [{ replyPort: 80, replyDestination: { ip: '10.0.0.1' } }, 'ERR_INVALID_CONNTRACK_MATCH'],
    ]
    for (const [m, code] of bad) {
      expect(() => compileMatch(m as ConntrackMatch), JSON.stringify(m)).toThrow(
        expect.objectContaining({ code, kind: 'invalid' }),
      )
    }
  })
})

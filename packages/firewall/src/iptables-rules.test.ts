import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  dnatSpec,
  IPT_DNAT,
  iptAddDockerReturns,
  iptAddNetwork,
  iptAddPorts,
  iptDeleteNetwork,
  iptDeletePorts,
  iptDockerBridges,
  iptFlush,
  iptInventory,
  iptUndoAddNetwork,
  parseDnatSpec,
} from './iptables-rules.js'
import { parseSave, renderTokens, rulesOf, tokenize } from './iptables-save.js'
import { parseNetworkRules } from './network-rules.js'
import { parsePortMapping } from './port-mapping.js'

// What iptables-save / ip6tables-save -t nat (1.8.9, nf_tables) print after network n1 on br0 and
// three published ports were added by this backend.
const fixture = (name: string): string => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8')
const saved4 = parseSave(fixture('iptables-save.txt'))
const saved6 = parseSave(fixture('ip6tables-save-nat.txt'))
const savedLines = fixture('iptables-save.txt').split('\n').concat(fixture('ip6tables-save-nat.txt').split('\n'))
const net = parseNetworkRules({ id: 'net1', bridge: 'br0', subnets: ['172.18.0.0/16', 'fd00:1::/64'] })
const tcp = parsePortMapping({
  proto: 'tcp',
  hostPort: 8080,
  containerIP: '172.18.0.2',
  containerPort: 80,
  bridge: 'br0',
})
const udp = parsePortMapping({
  proto: 'udp',
  hostIP: '10.0.0.1',
  hostPort: 53,
  containerIP: '172.18.0.2',
  containerPort: 53,
})
const range6 = parsePortMapping({
  proto: 'tcp',
  hostPort: 9000,
  hostPortEnd: 9001,
  containerIP: 'fd00:1::2',
  containerPort: 80,
  containerPortEnd: 81,
})

describe('iptables-save text', () => {
  it('tokenizes quoted strings and renders them back', () => {
    expect(tokenize('-A X -m comment --comment "a \\"b\\" c" -j ACCEPT')).toEqual([
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a "b" c',
      '-j',
      'ACCEPT',
    ])
    expect(renderTokens(['--comment', 'a "b" c', 'br-x.y_z'])).toBe('--comment "a \\"b\\" c" br-x.y_z')
  })

  it('the rules this backend writes are exactly what iptables-save prints (so they can be found again)', () => {
    for (const m of [tcp, udp, range6]) {
      expect(savedLines).toContain(renderTokens(['-A', IPT_DNAT, ...dnatSpec(m)]))
      expect(parseDnatSpec(dnatSpec(m), m.family)).toEqual(m)
    }
    const written = iptAddNetwork(net, 4, new Map()).render().text.split('\n')
    for (const line of written.filter((l) => /^-A (CNM-|PREROUTING|OUTPUT|POSTROUTING|INPUT)/u.test(l))) {
      expect(savedLines).toContain(line)
    }
  })
})

describe('iptables restore input', () => {
  it('a network on an empty ruleset: the skeleton, its chains and rules, per table', () => {
    const { text, about } = iptAddNetwork(net, 4, new Map()).render()
    expect(text).toMatch(
      /^\*nat\n:CNM-DNAT - \[0:0\]\n:CNM-POSTROUTING - \[0:0\]\n:CNM-MASQ-PUBLISHED - \[0:0\]\n-A PREROUTING ! -d 127\.0\.0\.0\/8 -j CNM-DNAT\n-A OUTPUT -j CNM-DNAT\n/u,
    )
    // A published host port as source port gets a random one (CVE-2021-3773), before the plain masquerade.
    expect(text).toContain(
      '-A CNM-POST-br0 -s 172.18.0.0/16 ! -o br0 -j CNM-MASQ-PUBLISHED\n-A CNM-POST-br0 -s 172.18.0.0/16 ! -o br0 -j MASQUERADE\n',
    )
    expect(text).toContain(
      '*filter\n:CNM-FORWARD - [0:0]\n:CNM-ISOLATION - [0:0]\n:CNM-INPUT - [0:0]\n:CNM-USER - [0:0]\n-I FORWARD 1 -j CNM-FORWARD\n-I FORWARD 1 -j CNM-USER\n-A INPUT -j CNM-INPUT\n',
    )
    expect(text).toContain('-A CNM-INPUT -d 127.0.0.0/8 ! -i lo -m conntrack ! --ctstate DNAT -j DROP\n')
    expect(text).toContain('-A CNM-POST-br0 -s 127.0.0.0/8 -o br0 -j MASQUERADE\n')
    // DNS from the bridge to an address that is not its own (another network's server) is dropped.
    for (const p of ['udp', 'tcp']) {
      expect(text).toContain(
        `-A CNM-INPUT -i br0 -p ${p} -m ${p} --dport 53 -m addrtype ! --dst-type LOCAL --limit-iface-in -j DROP\n`,
      )
    }
    // A gateway's DNS is for its own bridge only (not lo, not the uplink).
    for (const p of ['udp', 'tcp']) {
      expect(text).toContain(`-A CNM-INPUT -d 172.18.0.0/16 ! -i br0 -p ${p} -m ${p} --dport 53 -j DROP\n`)
    }
    // No VXLAN from the bridge: a container would reach an overlay network through the host's socket.
    expect(text).toContain('-A CNM-INPUT -i br0 -p udp -m udp --dport 4789 -j DROP\n')
    // Anti-spoofing in raw: a source not routed back through the bridge is dropped before conntrack,
    // and so is a broadcast or multicast one (the host would answer the whole network), not 0.0.0.0.
    expect(text).toContain(
      '*raw\n:CNM-PREROUTING - [0:0]\n-A PREROUTING -j CNM-PREROUTING\n-A CNM-PREROUTING -i br0 -m rpfilter --invert -j DROP\n' +
        '-A CNM-PREROUTING ! -s 0.0.0.0/32 -i br0 -m addrtype --src-type BROADCAST,MULTICAST -j DROP\nCOMMIT\n',
    )
    expect(text.match(/^COMMIT$/gmu)).toHaveLength(3)
    expect([...about.values()]).toContain('network net1 on bridge br0')
    const v6 = iptAddNetwork(net, 6, new Map()).render().text
    expect(v6).not.toContain('127.0.0.0/8')
    expect(v6).toContain('-A PREROUTING -j CNM-DNAT\n')
    expect(v6).toContain('-A CNM-POST-br0 -s fd00:1::/64 ! -o br0 -j MASQUERADE\n')
    // ip6tables' addrtype has no BROADCAST: a multicast source by its prefix.
    expect(v6).toContain('-A CNM-INPUT -i br0 -p udp -m udp --dport 4789 -j DROP\n')
    expect(v6).toContain(
      '-A CNM-PREROUTING -i br0 -m rpfilter --invert -j DROP\n-A CNM-PREROUTING -s ff00::/8 -i br0 -j DROP\nCOMMIT\n',
    )
    expect(v6).not.toContain('addrtype --src-type')
  })

  it('a network already there, or overlapping another, is EEXIST before anything is written', () => {
    expect(() => iptAddNetwork(net, 4, saved4)).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    const other = parseNetworkRules({ id: 'n2', bridge: 'br1', subnets: ['172.18.5.0/24'] })
    expect(() => iptAddNetwork(other, 4, saved4)).toThrow(
      expect.objectContaining({ code: 'EEXIST', message: expect.stringContaining('overlaps 172.18.0.0/16') }),
    )
    const fine = parseNetworkRules({ id: 'n2', bridge: 'br1', subnets: ['172.19.0.0/16'] })
    expect(iptAddNetwork(fine, 4, saved4).render().text).not.toContain(':CNM-FORWARD')
  })

  it('deleting a network removes its jumps, rules and chains', () => {
    expect(iptDeleteNetwork('br0', saved4).render().text).toBe(
      [
        '*filter',
        '-D CNM-FORWARD -i br0 -m comment --comment net1 -j CNM-FWD-br0',
        '-D CNM-FORWARD -o br0 -j CNM-IN-br0',
        '-D CNM-ISOLATION -o br0 -j DROP',
        '-D CNM-INPUT -i br0 -p udp -m udp --dport 53 -m addrtype ! --dst-type LOCAL --limit-iface-in -j DROP',
        '-D CNM-INPUT -i br0 -p tcp -m tcp --dport 53 -m addrtype ! --dst-type LOCAL --limit-iface-in -j DROP',
        '-D CNM-INPUT -d 172.18.0.0/16 ! -i br0 -p udp -m udp --dport 53 -j DROP',
        '-D CNM-INPUT -d 172.18.0.0/16 ! -i br0 -p tcp -m tcp --dport 53 -j DROP',
        '-D CNM-INPUT -i br0 -p udp -m udp --dport 4789 -j DROP',
        '-F CNM-FWD-br0',
        '-X CNM-FWD-br0',
        '-F CNM-IN-br0',
        '-X CNM-IN-br0',
        'COMMIT',
        '*nat',
        '-D CNM-POSTROUTING -j CNM-POST-br0',
        '-F CNM-POST-br0',
        '-X CNM-POST-br0',
        'COMMIT',
        '*raw',
        '-D CNM-PREROUTING -i br0 -m rpfilter --invert -j DROP',
        '-D CNM-PREROUTING ! -s 0.0.0.0/32 -i br0 -m addrtype --src-type BROADCAST,MULTICAST -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    )
    expect(iptDeleteNetwork('br9', saved4).empty).toBe(true)
  })

  it('ports: added once, refused when the host port goes elsewhere, deleted by their saved text', () => {
    expect(iptAddPorts([tcp], 4, saved4).added).toEqual([])
    const elsewhere = parsePortMapping({ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.9', containerPort: 80 })
    expect(() => iptAddPorts([elsewhere], 4, saved4)).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    expect(() => iptDeletePorts([elsewhere], 4, saved4)).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    const fresh = parsePortMapping({ proto: 'tcp', hostPort: 8081, containerIP: '172.18.0.2', containerPort: 80 })
    const { input, added } = iptAddPorts([fresh], 4, saved4)
    expect(added).toEqual([fresh])
    expect(input.render().text).toBe(
      '*nat\n-A CNM-DNAT -p tcp -m tcp --dport 8081 -m addrtype --dst-type LOCAL -j DNAT --to-destination 172.18.0.2:80\n' +
        '-A CNM-MASQ-PUBLISHED -p tcp -m tcp --sport 8081 -j MASQUERADE --random\nCOMMIT\n',
    )
    // Found without its comment, deleted with the text the kernel holds.
    const noBridge = parsePortMapping({ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80 })
    expect(iptDeletePorts([noBridge, fresh], 4, saved4).render().text).toBe(
      '*nat\n-D CNM-DNAT -p tcp -m tcp --dport 8080 -m addrtype --dst-type LOCAL -m comment --comment br0 -j DNAT --to-destination 172.18.0.2:80\n' +
        '-D CNM-MASQ-PUBLISHED -p tcp -m tcp --sport 8080 -j MASQUERADE --random\nCOMMIT\n',
    )
  })

  it('the masquerade remap of a published port: one rule per mapping, kept while another host address publishes it', () => {
    const again = parsePortMapping({
      proto: 'udp',
      hostIP: '10.0.0.2',
      hostPort: 53,
      containerIP: '172.18.0.3',
      containerPort: 53,
    })
    const remap = '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 53 -j MASQUERADE --random'
    const both = parseSave(
      fixture('iptables-save.txt').replace(
        `${remap}\n`,
        `${remap}\n${remap}\n-A CNM-DNAT ${renderTokens(dnatSpec(again))}\n`,
      ),
    )
    // One of two addresses unpublished: one of the two rules goes; the last: the other.
    expect(iptDeletePorts([udp], 4, both).render().text).toContain(`-D${remap.slice(2)}\nCOMMIT`)
    expect(iptDeletePorts([udp], 4, saved4).render().text).toContain(`-D${remap.slice(2)}\nCOMMIT`)
    const one = parseSave(
      fixture('iptables-save.txt').replace(`${remap}\n`, `-A CNM-DNAT ${renderTokens(dnatSpec(again))}\n`),
    )
    // The rule of the address that stays is not taken; a missing one is put back by publishing (repair).
    expect(iptDeletePorts([udp], 4, one).render().text).not.toContain('CNM-MASQ-PUBLISHED')
    expect(iptAddPorts([udp, again], 4, one).input.render().text).toBe(`*nat\n${remap}\n${remap}\nCOMMIT\n`)
    // A ruleset of an older cnm (no such chain): publishing creates it, unpublishing never adds to it.
    const older = parseSave(
      fixture('iptables-save.txt')
        .split('\n')
        .filter((l) => !l.includes('CNM-MASQ-PUBLISHED'))
        .join('\n'),
    )
    expect(iptAddPorts([udp], 4, older).input.render().text).toBe(
      `*nat\n:CNM-MASQ-PUBLISHED - [0:0]\n${remap}\nCOMMIT\n`,
    )
    expect(iptDeletePorts([udp], 4, older).render().text).not.toContain('CNM-MASQ-PUBLISHED')
  })

  it('undoing a half-applied network removes it, and the skeleton only where it was new', () => {
    const before = parseSave('*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n')
    const undo = iptUndoAddNetwork('br0', saved4, before, 4).render().text
    expect(undo).toContain('-X CNM-FWD-br0\n')
    expect(undo).toContain('-D PREROUTING ! -d 127.0.0.0/8 -j CNM-DNAT\n')
    expect(undo).toContain('-D FORWARD -j CNM-FORWARD\n')
    expect(undo).toContain('-X CNM-ISOLATION\n')
    expect(undo).not.toContain('-D CNM-FORWARD') // flushed with its chain, not deleted rule by rule
    const kept = iptUndoAddNetwork('br0', saved4, saved4, 4).render().text
    expect(kept).toContain('-X CNM-POST-br0\n')
    expect(kept).toContain('-D CNM-FORWARD -i br0 -m comment --comment net1 -j CNM-FWD-br0\n')
    expect(kept).toContain('-D CNM-ISOLATION -o br0 -j DROP\n')
    expect(kept).toContain(
      '-D CNM-INPUT -i br0 -p udp -m udp --dport 53 -m addrtype ! --dst-type LOCAL --limit-iface-in -j DROP\n',
    )
    expect(kept).toContain('-D CNM-INPUT -i br0 -p udp -m udp --dport 4789 -j DROP\n')
    expect(kept).toContain(
      '-D CNM-PREROUTING ! -s 0.0.0.0/32 -i br0 -m addrtype --src-type BROADCAST,MULTICAST -j DROP\n',
    )
    expect(kept).not.toContain('-D CNM-INPUT -d 127.0.0.0/8') // the skeleton's guard stays
    expect(kept).not.toContain('CNM-DNAT')
    expect(kept).not.toContain('-X CNM-FORWARD')
  })

  it("PREROUTING never sends 127.0.0.0/8 to CNM-DNAT; an older skeleton's jump is replaced, once", () => {
    const older = parseSave(
      fixture('iptables-save.txt').replace('-A PREROUTING ! -d 127.0.0.0/8 -j CNM-DNAT', '-A PREROUTING -j CNM-DNAT'),
    )
    const fresh = parsePortMapping({ proto: 'tcp', hostPort: 8081, containerIP: '172.18.0.2', containerPort: 80 })
    const upgrade = iptAddPorts([fresh], 4, older).input.render().text
    expect(upgrade).toMatch(
      /^\*nat\n-D PREROUTING -j CNM-DNAT\n-A PREROUTING ! -d 127\.0\.0\.0\/8 -j CNM-DNAT\n-A CNM-DNAT /u,
    )
    expect(upgrade).not.toContain('OUTPUT') // the host's own traffic keeps its jump
    // Already in place: nothing but the port (checked above for saved4); IPv6 has no such match.
    const v6 = parsePortMapping({ proto: 'tcp', hostPort: 9005, containerIP: 'fd00:1::2', containerPort: 80 })
    expect(iptAddPorts([v6], 6, saved6).input.render().text).not.toContain('PREROUTING')
    // An undone add keeps the replacement (the older jump was there before).
    expect(iptUndoAddNetwork('br0', saved4, older, 4).render().text).not.toMatch(/-[AD] PREROUTING /u)
  })

  it('flush: every jump into a CNM chain, then the chains', () => {
    const text = iptFlush(saved6).render().text
    expect(text).toBe(
      [
        '*nat',
        '-D PREROUTING -j CNM-DNAT',
        '-D OUTPUT -j CNM-DNAT',
        '-D POSTROUTING -j CNM-POSTROUTING',
        '-F CNM-DNAT',
        '-F CNM-MASQ-PUBLISHED',
        '-F CNM-POST-br0',
        '-F CNM-POSTROUTING',
        '-X CNM-DNAT',
        '-X CNM-MASQ-PUBLISHED',
        '-X CNM-POST-br0',
        '-X CNM-POSTROUTING',
        'COMMIT',
        '',
      ].join('\n'),
    )
    expect(iptFlush(new Map()).empty).toBe(true)
  })

  it('inventory from what iptables-save prints', () => {
    const inv4 = iptInventory(saved4, 4)
    expect(inv4.networks).toEqual([{ id: 'net1', bridge: 'br0', subnets: ['172.18.0.0/16'] }])
    expect(inv4.objects).toContain('iptables filter FORWARD -j CNM-FORWARD')
    expect(inv4.objects).toContain('iptables nat CNM-POST-br0')
    expect(inv4.ports).toEqual([
      { proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80, bridge: 'br0' },
      { proto: 'udp', hostIP: '10.0.0.1', hostPort: 53, containerIP: '172.18.0.2', containerPort: 53 },
    ])
    expect(iptInventory(saved6, 6).ports).toEqual([
      { proto: 'tcp', hostPort: 9000, containerIP: 'fd00:1::2', containerPort: 80 },
      { proto: 'tcp', hostPort: 9001, containerIP: 'fd00:1::2', containerPort: 81 },
    ])
  })
})

describe("iptables rules beside Docker's bridges", () => {
  // Docker 20.10's FORWARD rules and 28.x's DOCKER-BRIDGE, and a network of cnm's on br1.
  const docker = parseSave(
    [
      '*filter',
      ':FORWARD DROP [0:0]',
      ':DOCKER - [0:0]',
      ':DOCKER-BRIDGE - [0:0]',
      ':CNM-FWD-br1 - [0:0]',
      '-A FORWARD -o docker0 -j DOCKER',
      '-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-A DOCKER-BRIDGE -o br-1a2b3c4d5e6f -j DOCKER',
      '-A FORWARD -o br+ -j DOCKER',
      '-A FORWARD ! -o eth9 -j DOCKER',
      '-A FORWARD -o br1 -j DOCKER',
      'COMMIT',
    ].join('\n'),
  )

  it("finds Docker's bridges by their `-j DOCKER` mark, never cnm's", () => {
    expect(iptDockerBridges(docker)).toEqual(['docker0', 'br-1a2b3c4d5e6f'])
    expect(iptDockerBridges(docker, ['docker0'])).toEqual(['br-1a2b3c4d5e6f'])
  })

  it("a network's forward chain returns to Docker's bridges before its accepts, after an internal network's drop", () => {
    const text = iptAddNetwork(net, 4, docker).render().text.split('\n')
    const fwd = text.filter((l) => l.startsWith('-A CNM-FWD-br0 '))
    expect(fwd).toEqual([
      '-A CNM-FWD-br0 -o br0 -m conntrack --ctstate DNAT -j ACCEPT',
      '-A CNM-FWD-br0 -o br0 -j ACCEPT',
      '-A CNM-FWD-br0 -o docker0 -j RETURN',
      '-A CNM-FWD-br0 -o br-1a2b3c4d5e6f -j RETURN',
      '-A CNM-FWD-br0 -m conntrack --ctstate DNAT -j ACCEPT',
      '-A CNM-FWD-br0 -j CNM-ISOLATION',
      '-A CNM-FWD-br0 -j ACCEPT',
    ])
    const internal = parseNetworkRules({ id: 'i', bridge: 'br0', subnets: ['172.18.0.0/16'], internal: true })
    expect(iptAddNetwork(internal, 4, docker).render().text).not.toContain('RETURN')
  })

  it('a Docker bridge that came later: inserted ahead of the first accept, or undefined when more is missing', () => {
    // What the kernel holds: the network written before Docker's bridge existed, then Docker's mark.
    const written = iptAddNetwork(net, 4, new Map()).render().text
    const mark = '*filter\n-A FORWARD -o docker0 -j DOCKER\n'
    const now = parseSave(written.replace('*filter\n', mark))
    const fwd = rulesOf(now, 'filter', 'CNM-FWD-br0').map((r) => r.join(' '))
    const at = fwd.indexOf('-m conntrack --ctstate DNAT -j ACCEPT')
    expect(at).toBe(2)
    expect(iptAddDockerReturns(net, 4, now)?.render().text).toBe(
      `*filter\n-I CNM-FWD-br0 ${at + 1} -o docker0 -j RETURN\nCOMMIT\n`,
    )
    // Nothing missing: nothing to insert.
    const covered = parseSave(written.replace('*filter\n', `${mark}-A CNM-FWD-br0 -o docker0 -j RETURN\n`))
    expect(iptAddDockerReturns(net, 4, covered)?.empty).toBe(true)
    // Another rule missing too: the network is rewritten instead.
    const damaged = parseSave(written.replace('*filter\n', mark).replace(/^-A CNM-FWD-br0 -j CNM-ISOLATION\n/mu, ''))
    expect(iptAddDockerReturns(net, 4, damaged)).toBeUndefined()
  })
})

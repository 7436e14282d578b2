import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { NetworkController } from '@cnm/controller'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createIpam } from './ipam.js'
import { journalFile } from './reservation-journal.js'
import { StateFile } from './state-file.js'

// Finding F5 of the adversarial review: one bad entry of the state file (or of a journal line)
// passed the checks at start, and from then on every RequestAddress of every network threw a
// TypeError. Every entry is parsed now, and a file that holds one cnm never writes is refused at
// start: ERR_DOCKER_STATE, kind invalid, naming the entry and the file.

const N1 = 'a'.repeat(64)
const N2 = 'b'.repeat(64)

/** The controller's read side the IPAM asks: one network, 10.77.0.0/24, gateway .1, no endpoints. */
const controller = {
  networks: () => [
    {
      inspect: () => ({
        subnet: '10.77.0.0/24',
        gateway: '10.77.0.1',
        subnetIPv6: undefined,
        gatewayIPv6: undefined,
        endpoints: [],
      }),
    },
  ],
} as unknown as NetworkController

describe("the plugin's state file: every entry parsed when it is read", () => {
  let dir: string
  let file: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-state-entries-'))
    file = path.join(dir, 'state.json')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  const put = (state: unknown): void => writeFileSync(file, JSON.stringify(state), { mode: 0o600 })
  const refused = (entry: string): void => {
    let err: unknown
    try {
      new StateFile(file)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ name: 'DockerPluginError', code: 'ERR_DOCKER_STATE', kind: 'invalid' })
    expect((err as Error).message).toContain(file)
    expect((err as Error).message).toContain(entry)
  }

  it.each([
    ['a network entry that is null', { networks: { [N1]: null } }, `networks["${N1}"] is null, not an object`],
    ['a network entry that is a list', { networks: { [N1]: [] } }, `networks["${N1}"] is [], not an object`],
    ['a key that is not a Docker network id', { networks: { other: {} } }, 'networks["other"]'],
    ['a field cnm never writes', { networks: { [N1]: { mtu: 9000 } } }, `networks["${N1}"].mtu`],
    ['aux that is not a map', { networks: { [N1]: { aux: ['10.77.0.5'] } } }, `networks["${N1}"].aux`],
    ['aux of a number', { networks: { [N1]: { aux: { '10.77.0.0/24': 5 } } } }, '["10.77.0.0/24"] is 5'],
    [
      'aux of a string (once silently ignored)',
      { networks: { [N1]: { aux: { '10.77.0.0/24': '10.77.0.23' } } } },
      '["10.77.0.0/24"] is "10.77.0.23", not a list of addresses',
    ],
    [
      'an aux address outside its subnet',
      { networks: { [N1]: { aux: { '10.77.0.0/24': ['10.77.0.5', '10.78.0.5'] } } } },
      '["10.77.0.0/24"][1] "10.78.0.5" is not an address in 10.77.0.0/24',
    ],
    [
      'an aux address that is not an address',
      { networks: { [N1]: { aux: { '10.77.0.0/24': [{}] } } } },
      '[0] {} is not an address',
    ],
    [
      'an aux subnet with host bits',
      { networks: { [N1]: { aux: { '10.77.0.5/24': ['10.77.0.5'] } } } },
      '["10.77.0.5/24"] is not a subnet',
    ],
    [
      'an IPv6 hostBindingIPv4',
      { networks: { [N1]: { hostBindingIPv4: '::1' } } },
      `networks["${N1}"].hostBindingIPv4 "::1" is not an IPv4 address`,
    ],
    [
      'a hostBindingIPv4 that is not an address',
      { networks: { [N1]: { hostBindingIPv4: 'localhost' } } },
      '.hostBindingIPv4 "localhost"',
    ],
    [
      'an ifacePrefix that is not one',
      { networks: { [N1]: { ifacePrefix: 'eth/0' } } },
      '.ifacePrefix "eth/0" is not an interface name prefix',
    ],
    ['no networks', { ipam: { pools: [], addresses: {} } }, 'networks is undefined, not an object'],
    ['a pool that is not a pool id', { networks: {}, ipam: { pools: ['10.77.0.0'], addresses: {} } }, 'ipam.pools[0]'],
    ['pools that are not a list', { networks: {}, ipam: { pools: 'x', addresses: {} } }, 'ipam.pools is "x"'],
    [
      'a handed-out address outside its subnet',
      { networks: {}, ipam: { pools: [], addresses: { '10.77.0.0/24': ['10.77.1.2'] } } },
      'ipam.addresses["10.77.0.0/24"][0] "10.77.1.2"',
    ],
    ['a top-level field cnm never writes', { networks: {}, extra: 1 }, 'the state.extra'],
  ])('refuses %s at start, naming it', (_what, state, entry) => {
    put(state)
    refused(entry)
  })

  it('refuses a file that is not JSON, naming the file', () => {
    writeFileSync(file, '{"networks": {', { mode: 0o600 })
    refused("is not the plugin's state")
  })

  it('with one bad entry, start is refused: RequestAddress never throws a TypeError for every network', () => {
    put({ networks: { [N1]: { aux: { '10.77.0.0/24': ['10.77.0.2'] } }, [N2]: null } })
    expect(() => createIpam(controller, new StateFile(file))).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_STATE' }),
    )
    // The good file (the bad entry fixed) works, and its aux address is skipped.
    put({ networks: { [N1]: { aux: { '10.77.0.0/24': ['10.77.0.2'] } } } })
    const ipam = createIpam(controller, new StateFile(file))
    expect(ipam.requestAddress({ PoolID: '10.77.0.0/24', Address: '', Options: {} }).Address).toBe('10.77.0.3/24')
  })

  it('reads addresses and subnets in any spelling @cnm/ip parses, as their canonical text', () => {
    put({
      networks: {
        [N1]: { hostBindingIPv4: '127.0.0.1', aux: { 'FD00:0::/64': ['FD00::5', 'fd00:0:0:0::5'] } },
      },
      ipam: { pools: ['10.77.0.0/24'], addresses: { 'FD00::/64': ['fd00::0:9'] } },
    })
    const state = new StateFile(file)
    expect(state.network(N1)).toEqual({ hostBindingIPv4: '127.0.0.1', aux: { 'fd00::/64': ['fd00::5'] } })
    expect(state.reservations()).toEqual({ pools: ['10.77.0.0/24'], addresses: { 'fd00::/64': ['fd00::9'] } })
  })

  it('refuses to record extras it would refuse to read, before anything changes', () => {
    const state = new StateFile(file)
    state.setNetwork(N1, { aux: { '10.77.0.0/24': ['10.77.0.2'] } })
    const before = readFileSync(file, 'utf8')
    expect(() => state.setNetwork(N2, { aux: { '10.77.0.0/24': ['10.78.0.2'] } })).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_STATE', kind: 'invalid' }),
    )
    expect(() => state.setNetwork('n1', { hostBindingIPv4: '127.0.0.1' })).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_STATE', kind: 'invalid' }),
    )
    expect(readFileSync(file, 'utf8')).toBe(before)
    expect(new StateFile(file).networks()).toEqual({ [N1]: { aux: { '10.77.0.0/24': ['10.77.0.2'] } } })
  })
})

describe('the reservation journal: every line parsed when it is replayed', () => {
  let dir: string
  let file: string
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-state-entries-'))
    file = path.join(dir, 'state.json')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it.each([
    ['a pool that is not a pool id', '["+p","10.77.0.5"]', 'line 2'],
    ['an address outside its subnet', '["+a","10.77.0.0/24","10.78.0.2"]', '"10.78.0.2" is not an address in'],
    ['an address that is not an address', '["+a","10.77.0.0/24","x"]', 'line 2'],
    ['a subnet with host bits', '["-a","10.77.0.9/24","10.77.0.9"]', 'is not a subnet'],
    ['a subnet that is not a string', '["+a",7,"10.77.0.9"]', 'line 2'],
    ['a line that is an object', '{"op":"+p"}', 'line 2'],
  ])('refuses %s, naming the line and the journal', (_what, line, says) => {
    writeFileSync(journalFile(file), `["+p","10.77.0.0/24"]\n${line}\n`, { mode: 0o600 })
    let err: unknown
    try {
      new StateFile(file)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'ERR_DOCKER_STATE', kind: 'invalid' })
    expect((err as Error).message).toContain(journalFile(file))
    expect((err as Error).message).toContain(says)
  })

  it('tolerates only a torn last line, and what follows it later is not glued onto it', () => {
    writeFileSync(journalFile(file), '["+p","10.77.0.0/24"]\n["+a","10.77.0.0/24","10.7', { mode: 0o600 })
    const state = new StateFile(file)
    expect(state.reservations()).toEqual({ pools: ['10.77.0.0/24'], addresses: {} })
    state.setReservations({ pools: ['10.77.0.0/24'], addresses: { '10.77.0.0/24': ['10.77.0.2'] } })
    expect(new StateFile(file).reservations()).toEqual({
      pools: ['10.77.0.0/24'],
      addresses: { '10.77.0.0/24': ['10.77.0.2'] },
    })
    // A torn line alone (the crash came in the first write after a fold) is not glued onto either.
    rmSync(file)
    writeFileSync(journalFile(file), '["+p","10.7', { mode: 0o600 })
    const again = new StateFile(file)
    again.setReservations({ pools: ['10.78.0.0/24'], addresses: {} })
    expect(new StateFile(file).reservations()).toEqual({ pools: ['10.78.0.0/24'], addresses: {} })
  })

  it('replays addresses as their canonical text, so a release matches what was handed out', () => {
    writeFileSync(journalFile(file), '["+a","FD00::/64","FD00::2"]\n["-a","fd00::/64","fd00:0::2"]\n', { mode: 0o600 })
    expect(new StateFile(file).reservations()).toEqual({ pools: [], addresses: {} })
  })
})

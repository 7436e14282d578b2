import { describe, expect, it } from 'vitest'
import { bytesToIp, ipToBytes, networkBytes, parsePrefixedAddress, v4Broadcast } from './ip-codec.js'
import { formatMac, parseMac } from './mac.js'
import { sysctlPath } from './sysctl.js'

describe('address codec', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['::1', '::1'],
    ['fd00::2', 'fd00::2'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::', 'fe80::'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::FFFF:a00:1', '::ffff:10.0.0.1'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ])('%s → bytes → %s', (ip, canonical) => {
    expect(bytesToIp(ipToBytes(ip))).toBe(canonical)
  })

  it('refuses what is not an address, zone indices included', () => {
    for (const bad of ['', '10.0.0.256', 'fe80::1%eth0', '::1/128']) {
      expect(() => ipToBytes(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }))
    }
    expect(() => bytesToIp(new Uint8Array(5))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }))
  })

  it('reads bytes at any offset of their buffer', () => {
    const buf = Buffer.from([9, 9, 10, 0, 0, 7, 9])
    expect(bytesToIp(buf.subarray(2, 6))).toBe('10.0.0.7')
  })

  it('parses prefixed addresses and refuses malformed ones', () => {
    expect(parsePrefixedAddress('172.18.0.2/16')).toMatchObject({ family: 2, address: '172.18.0.2', prefixLength: 16 })
    expect(parsePrefixedAddress('FD00::0002/64')).toMatchObject({ family: 10, address: 'fd00::2', prefixLength: 64 })
    for (const bad of [
      '10.0.0.1',
      '10.0.0.1/33',
      'fd00::1/129',
      '10.0.0/24',
      'x/8',
      '10.0.0.1/-1',
      'fe80::1%eth0/64',
    ]) {
      expect(() => parsePrefixedAddress(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ADDRESS' }))
    }
  })

  it('computes broadcast and network addresses', () => {
    expect(bytesToIp(v4Broadcast(ipToBytes('172.18.0.2'), 16))).toBe('172.18.255.255')
    expect(bytesToIp(networkBytes(ipToBytes('172.18.3.2'), 16))).toBe('172.18.0.0')
    expect(bytesToIp(networkBytes(ipToBytes('fd00:1:2:3::9'), 48))).toBe('fd00:1:2::')
  })

  it('parses and formats MACs, refusing multicast and malformed ones', () => {
    expect(formatMac(parseMac('02:42:AC:11:00:02'))).toBe('02:42:ac:11:00:02')
    expect(() => parseMac('01:00:5e:00:00:01')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MAC' }))
    expect(() => parseMac('02:42:ac:11:00')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MAC' }))
  })

  it('maps sysctl keys to /proc/sys paths, only under net', () => {
    expect(sysctlPath('net.ipv4.ip_forward')).toBe('/proc/sys/net/ipv4/ip_forward')
    expect(sysctlPath('net/ipv4/conf/br-1.100/route_localnet')).toBe('/proc/sys/net/ipv4/conf/br-1.100/route_localnet')
    for (const bad of ['kernel.panic', 'net/../kernel/panic', 'net', 'net/ipv4/a b']) {
      expect(() => sysctlPath(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_INVALID_SYSCTL' }))
    }
  })
})

import { describe, expect, it } from 'vitest'
import { addSocketTable, type BoundPorts, decodeAddress } from './proc-net.js'

// Real lines from a little-endian x86-64 host.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 174 1 000000003ba37940 100 0 0 10 0
   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 175 1 000000003ba37940 100 0 0 10 0
   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 176 1 000000003ba37940 20 4 30 10 -1
   3: 0200000A:0050 0300000A:D431 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
`
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 180 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 181 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 182 1 0000000000000000 100 0 0 10 0
   3: 000000FD000000000000000002000000:1F93 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 183 1 0000000000000000 100 0 0 10 0
`
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 20 2 0000000000000000 0
  456: 0100007F:A1B2 0101A8C0:0035 01 00000000:00000000 00:00000000 00000000  1000        0 21 2 0000000000000000 0
  789: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 22 2 0000000000000000 0
`

function sorted(bound: BoundPorts): Array<[number, string[]]> {
  return [...bound].map(([port, ips]): [number, string[]] => [port, [...ips].sort()]).sort((a, b) => a[0] - b[0])
}

describe('addSocketTable', () => {
  it('keeps only listening TCP sockets', () => {
    expect(sorted(addSocketTable(new Map(), TCP, true, true))).toEqual([
      [3306, ['127.0.0.1']],
      [8080, ['0.0.0.0']],
    ])
  })

  it('reads IPv6 tables, turning IPv4-mapped addresses into IPv4', () => {
    expect(sorted(addSocketTable(new Map(), TCP6, true, true))).toEqual([
      [22, ['::1']],
      [8081, ['::']],
      [8082, ['127.0.0.1']],
      [8083, ['fd00::2']],
    ])
  })

  it('keeps every UDP socket with a local port, connected or not', () => {
    expect(sorted(addSocketTable(new Map(), UDP, false, true))).toEqual([
      [53, ['127.0.0.53']],
      [41394, ['127.0.0.1']],
    ])
  })

  it('merges tables and lists each address once', () => {
    const bound = addSocketTable(new Map(), TCP, true, true)
    addSocketTable(bound, TCP, true, true)
    addSocketTable(bound, `   0: 0100007F:1F90 00000000:0000 0A 0\n`, true, true)
    expect(bound.get(8080)).toEqual(['0.0.0.0', '127.0.0.1'])
  })

  it('ignores headers, blank and malformed lines', () => {
    expect(addSocketTable(new Map(), 'garbage\n\n  0: zz:zz 0 0A\n   1: 0100007F:0050\n', true, true).size).toBe(0)
  })
})

describe('decodeAddress', () => {
  it('decodes host-order words on little- and big-endian hosts', () => {
    expect(decodeAddress('0100007F', true)).toBe('127.0.0.1')
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1')
    expect(decodeAddress('B80D0120000000000000000001000000', true)).toBe('2001:db8::1')
    expect(decodeAddress('20010DB8000000000000000000000001', false)).toBe('2001:db8::1')
  })

  it('rejects other lengths', () => {
    expect(decodeAddress('0100', true)).toBeUndefined()
  })
})

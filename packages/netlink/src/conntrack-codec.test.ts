import { describe, expect, it } from 'vitest'
import {
  type ConntrackEntry,
  CT_MSG,
  CTA,
  deleteRequest,
  dumpRequest,
  nfgenmsg,
  parseEntry,
  tupleAttr,
} from './conntrack-codec.js'
import { decodeAttrs, encodeAttrs } from './nlattr.js'

// Entries as kernel 6.18 sent them in a dump (IPCTNL_MSG_CT_NEW payloads, nfgenmsg first), for flows
// made with `dgram` and `ping` on loopback; /proc/net/nf_conntrack listed them as in each comment.
const KERNEL = {
  // udp src=127.0.0.1 dst=127.0.0.1 sport=33976 dport=5555 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=5555 dport=33976
  udp4: '020000003400018014000180080001007f000001080002007f0000011c00028005000100110000000600020084b800000600030015b300003400028014000180080001007f000001080002007f0000011c00028005000100110000000600020015b300000600030084b800000800030000000008080008000000000008000c00d1caafab08000b0000000001080007000000001d',
  // udp src=::1 dst=::1 sport=48792 dport=5556 [UNREPLIED] src=::1 dst=::1 sport=5556 dport=48792
  udp6: '0a0000004c0001802c000180140003000000000000000000000000000000000114000400000000000000000000000000000000011c000280050001001100000006000200be9800000600030015b400004c0002802c000180140003000000000000000000000000000000000114000400000000000000000000000000000000011c00028005000100110000000600020015b4000006000300be9800000800030000000008080008000000000008000c00e147708008000b0000000001080007000000001d',
  // icmp src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=16731 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=16731
  icmp4:
    '020000003c00018014000180080001007f000001080002007f00000124000280050001000100000006000400415b0000050005000800000005000600000000003c00028014000180080001007f000001080002007f00000124000280050001000100000006000400415b000005000500000000000500060000000000080003000000000a080008000000000008000c0099f0ec9c08000b0000000001080007000000001d',
  // icmpv6 src=::1 dst=::1 type=128 code=0 id=16732 src=::1 dst=::1 type=129 code=0 id=16732
  icmp6:
    '0a000000540001802c0001801400030000000000000000000000000000000001140004000000000000000000000000000000000124000280050001003a00000006000700415c000005000800800000000500090000000000540002802c0001801400030000000000000000000000000000000001140004000000000000000000000000000000000124000280050001003a00000006000700415c000005000800810000000500090000000000080003000000000a080008000000000008000c00c717d9bc08000b0000000001080007000000001d',
}
const hex = (name: keyof typeof KERNEL): Buffer => Buffer.from(KERNEL[name], 'hex')

/** The attribute `type` of a message as the kernel encoded it (header included, padded). */
function kernelAttr(msg: Buffer, type: number): Buffer {
  let off = 4
  while (off < msg.length) {
    const len = msg.readUInt16LE(off)
    if ((msg.readUInt16LE(off + 2) & 0x3fff) === type) return msg.subarray(off, off + ((len + 3) & ~3))
    off += (len + 3) & ~3
  }
  throw new Error(`no attribute ${type}`)
}

describe('conntrack messages', () => {
  it('uses the ctnetlink message types (subsystem 1 in the high byte)', () => {
    expect(CT_MSG).toEqual({ NEW: 0x100, GET: 0x101, DELETE: 0x102 })
    expect([...nfgenmsg(10)]).toEqual([10, 0, 0, 0])
    expect([...dumpRequest()]).toEqual([0, 0, 0, 0]) // AF_UNSPEC: both families, no filter
  })

  it('parses IPv4 and IPv6 UDP entries as the kernel sends them', () => {
    expect(parseEntry(hex('udp4'))).toEqual({
      family: 4,
      original: { src: '127.0.0.1', dst: '127.0.0.1', proto: 17, srcPort: 33976, dstPort: 5555 },
      reply: { src: '127.0.0.1', dst: '127.0.0.1', proto: 17, srcPort: 5555, dstPort: 33976 },
      id: 0xd1caafab,
      zone: 0,
      status: 8,
    })
    expect(parseEntry(hex('udp6'))).toMatchObject({
      family: 6,
      original: { src: '::1', dst: '::1', proto: 17, srcPort: 48792, dstPort: 5556 },
      reply: { src: '::1', dst: '::1', srcPort: 5556, dstPort: 48792 },
    })
  })

  it('parses ICMP and ICMPv6 entries (identifier, type and code in place of ports)', () => {
    const e4 = parseEntry(hex('icmp4'))
    expect(e4?.original).toEqual({
      src: '127.0.0.1',
      dst: '127.0.0.1',
      proto: 1,
      icmp: { id: 16731, type: 8, code: 0 },
    })
    expect(e4?.reply.icmp).toEqual({ id: 16731, type: 0, code: 0 })
    const e6 = parseEntry(hex('icmp6'))
    expect(e6?.original).toEqual({ src: '::1', dst: '::1', proto: 58, icmp: { id: 16732, type: 128, code: 0 } })
    expect(e6?.reply.icmp?.type).toBe(129)
  })

  it('encodes tuples byte for byte as the kernel does', () => {
    for (const name of ['udp4', 'udp6', 'icmp4', 'icmp6'] as const) {
      const msg = hex(name)
      const e = parseEntry(msg) as ConntrackEntry
      expect(encodeAttrs([tupleAttr(CTA.TUPLE_ORIG, e.family, e.original)]).toString('hex'), name).toBe(
        kernelAttr(msg, CTA.TUPLE_ORIG).toString('hex'),
      )
      expect(encodeAttrs([tupleAttr(CTA.TUPLE_REPLY, e.family, e.reply)]).toString('hex'), name).toBe(
        kernelAttr(msg, CTA.TUPLE_REPLY).toString('hex'),
      )
    }
  })

  it('deletes by the original tuple and the id (and the zone when it is not 0)', () => {
    const e = parseEntry(hex('udp6')) as ConntrackEntry
    const req = deleteRequest(e)
    expect([...req.subarray(0, 4)]).toEqual([10, 0, 0, 0])
    const attrs = decodeAttrs(req.subarray(4))
    expect([...attrs.keys()]).toEqual([CTA.TUPLE_ORIG, CTA.ID])
    expect(req.subarray(4).subarray(0, kernelAttr(hex('udp6'), CTA.TUPLE_ORIG).length)).toEqual(
      kernelAttr(hex('udp6'), CTA.TUPLE_ORIG),
    )
    expect(attrs.get(CTA.ID)?.[0]?.readUInt32BE(0)).toBe(e.id)
    const zoned = decodeAttrs(deleteRequest({ ...e, zone: 7, id: undefined }).subarray(4))
    expect([...zoned.keys()]).toEqual([CTA.TUPLE_ORIG, CTA.ZONE])
    expect(zoned.get(CTA.ZONE)?.[0]?.readUInt16BE(0)).toBe(7)
  })

  it('round-trips an entry through its own encoding', () => {
    const e: ConntrackEntry = {
      family: 6,
      original: { src: '2001:db8::2', dst: '2001:db8::1', proto: 132, srcPort: 40000, dstPort: 8080 },
      reply: { src: 'fd00::5', dst: '2001:db8::2', proto: 132, srcPort: 80, dstPort: 40000 },
      id: 1,
      zone: 3,
      status: 0x20,
    }
    const body = encodeAttrs([
      tupleAttr(CTA.TUPLE_ORIG, 6, e.original),
      tupleAttr(CTA.TUPLE_REPLY, 6, e.reply),
      { type: CTA.STATUS, bytes: Buffer.from([0, 0, 0, 0x20]) },
      { type: CTA.ID, bytes: Buffer.from([0, 0, 0, 1]) },
      { type: CTA.ZONE, bytes: Buffer.from([0, 3]) },
    ])
    expect(parseEntry(Buffer.concat([nfgenmsg(10), body]))).toEqual(e)
  })

  it('skips other families and refuses what does not parse', () => {
    expect(parseEntry(Buffer.from([7, 0, 0, 0]))).toBeUndefined()
    expect(() => parseEntry(Buffer.from([2, 0]))).toThrow(
      expect.objectContaining({ code: 'ERR_NETLINK', kind: 'kernel' }),
    )
    expect(() => parseEntry(Buffer.from([2, 0, 0, 0]))).toThrow(/no tuple/u)
    const noAddresses = encodeAttrs([{ type: CTA.TUPLE_ORIG, nested: [{ type: 2, nested: [{ type: 1, u8: 17 }] }] }])
    expect(() => parseEntry(Buffer.concat([nfgenmsg(2), noAddresses]))).toThrow(/without addresses/u)
  })
})

/** A netlink attribute to encode: raw bytes, a string (NUL-terminated), a number, or nested attributes. */
export type AttrValue =
  | { type: number; bytes: Uint8Array }
  | { type: number; str: string }
  | { type: number; u8: number }
  | { type: number; u32: number }
  | { type: number; nested: AttrValue[] }

/** NLA_F_NESTED: marks an attribute whose payload is more attributes. */
export const NLA_F_NESTED = 0x8000
const NLA_TYPE_MASK = 0x3fff
const NLA_HDRLEN = 4

const align4 = (n: number): number => (n + 3) & ~3

function payload(attr: AttrValue): Buffer {
  if ('bytes' in attr) return Buffer.from(attr.bytes)
  if ('str' in attr) return Buffer.from(`${attr.str}\0`, 'utf8')
  if ('u8' in attr) return Buffer.from([attr.u8 & 0xff])
  if ('u32' in attr) {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(attr.u32 >>> 0)
    return b
  }
  return encodeAttrs(attr.nested)
}

/** Encodes attributes as a netlink TLV stream (host byte order, 4-byte aligned). */
export function encodeAttrs(attrs: readonly AttrValue[]): Buffer {
  const parts: Buffer[] = []
  for (const attr of attrs) {
    const data = payload(attr)
    const len = NLA_HDRLEN + data.length
    const buf = Buffer.alloc(align4(len))
    buf.writeUInt16LE(len, 0)
    buf.writeUInt16LE('nested' in attr ? attr.type | NLA_F_NESTED : attr.type, 2)
    data.copy(buf, NLA_HDRLEN)
    parts.push(buf)
  }
  return Buffer.concat(parts)
}

/** Decodes a TLV stream into its attributes by type (flags stripped); a repeated type keeps all. */
export function decodeAttrs(buf: Uint8Array): Map<number, Buffer[]> {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  const out = new Map<number, Buffer[]>()
  let off = 0
  while (off + NLA_HDRLEN <= b.length) {
    const len = b.readUInt16LE(off)
    const type = b.readUInt16LE(off + 2) & NLA_TYPE_MASK
    if (len < NLA_HDRLEN || off + len > b.length) break
    const list = out.get(type) ?? []
    list.push(b.subarray(off + NLA_HDRLEN, off + len))
    out.set(type, list)
    off += align4(len)
  }
  return out
}

/** The first attribute of `type` as a string (NUL stripped), or undefined. */
export function attrString(attrs: Map<number, Buffer[]>, type: number): string | undefined {
  const b = attrs.get(type)?.[0]
  if (!b) return undefined
  const end = b.indexOf(0)
  return b.subarray(0, end < 0 ? b.length : end).toString('utf8')
}

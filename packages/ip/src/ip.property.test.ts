import { isIPv4 as nodeIsIPv4, isIPv6 as nodeIsIPv6, SocketAddress } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatAddress, type IPFamily, parseAddress, tryParseAddress, unmapped } from './address.js'
import { containsAddress, containsPrefix, networksOverlap, parseCIDR, prefixOf } from './cidr.js'

const RUNS = { numRuns: 2000 }

const v4Value = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n })
/** IPv6 values biased to have zero groups (where `::` matters) and the mapped range. */
const v6Value = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  fc
    .array(fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    })
    .map((groups) => groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)),
  v4Value.map((v) => 0xffff00000000n | v),
)
const address = fc.oneof(
  v4Value.map((value) => ({ family: 4 as IPFamily, value })),
  v6Value.map((value) => ({ family: 6 as IPFamily, value })),
)

/** A simple model of RFC 5952: eight hex groups, the first longest run of 2+ zero groups as `::`. */
function modelText(family: IPFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.')
  if (value >> 32n === 0xffffn) return `::ffff:${modelText(4, value & 0xffffffffn)}`
  const groups = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16))
  const joined = `:${groups.join(':')}:`
  let best = ''
  for (const m of joined.matchAll(/:(?:0:){2,}/g)) if (m[0].length > best.length) best = m[0]
  if (best === '') return groups.join(':')
  const at = joined.indexOf(best)
  const text = `${joined.slice(0, at)}::${joined.slice(at + best.length)}`
  return text.replace(/^:(?!:)/, '').replace(/(?<!:):$/, '')
}

/** Another spelling of an IPv6 value: padding, case, any zero run as `::`, a dotted tail. */
const v6Spelling = fc
  .record({
    value: v6Value,
    pads: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }),
    upper: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    gapPick: fc.nat(),
    dotted: fc.boolean(),
  })
  .map(({ value, pads, upper, gapPick, dotted }) => {
    const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn))
    let parts = groups.map((g, i) => {
      const hex = g.toString(16).padStart(Math.min(4, g.toString(16).length + (pads[i] ?? 0)), '0')
      return upper[i] ? hex.toUpperCase() : hex
    })
    if (dotted) {
      const low = value & 0xffffffffn
      parts = [...parts.slice(0, 6), modelText(4, low)]
    }
    // runs of zero groups among the hex parts (not the dotted tail), any length ≥ 1
    const runs: [number, number][] = []
    const hexCount = dotted ? 6 : 8
    for (let i = 0; i < hexCount; i++) {
      for (let j = i; j < hexCount && groups[j] === 0; j++) runs.push([i, j + 1])
    }
    const run = runs.length > 0 && gapPick % 3 !== 0 ? runs[gapPick % runs.length] : undefined
    if (run === undefined) return { value, text: parts.join(':') }
    const [a, b] = run
    return { value, text: `${parts.slice(0, a).join(':')}::${parts.slice(b).join(':')}` }
  })

describe('parse and format (properties)', () => {
  it('formats canonical text as the model does, and parses it back', () => {
    fc.assert(
      fc.property(address, ({ family, value }) => {
        const text = formatAddress(family, value)
        expect(text).toBe(modelText(family, value))
        expect(parseAddress(text)).toEqual({ family, value, text })
      }),
      RUNS,
    )
  })

  it('writes what Node (libuv inet_ntop) writes, outside the deprecated IPv4-compatible range', () => {
    fc.assert(
      fc.property(v6Value, (value) => {
        fc.pre(value >> 32n !== 0n)
        expect(formatAddress(6, value)).toBe(
          new SocketAddress({ address: formatAddress(6, value), family: 'ipv6' }).address,
        )
      }),
      RUNS,
    )
  })

  it('reads every spelling of an IPv6 value as that value, with one canonical text', () => {
    fc.assert(
      fc.property(v6Spelling, ({ value, text }) => {
        expect(nodeIsIPv6(text)).toBe(true)
        expect(parseAddress(text)).toEqual({ family: 6, value, text: modelText(6, value) })
      }),
      RUNS,
    )
  })

  it('accepts exactly what Node accepts as an address, less zone indices', () => {
    const piece = fc.constantFrom(
      '0',
      '1',
      '7f',
      'ffff',
      'FFFF',
      '0000',
      '12345',
      'g',
      ':',
      '::',
      '.',
      '1.2.3.4',
      '255.255.255.255',
      '256',
      '01',
      '%eth0',
      '/',
      ' ',
    )
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 14 }), (pieces) => {
        const text = pieces.join('')
        const model = nodeIsIPv4(text) ? 4 : nodeIsIPv6(text) && !text.includes('%') ? 6 : undefined
        expect(tryParseAddress(text)?.family).toBe(model)
      }),
      { numRuns: 20_000 },
    )
  })

  it('unmaps to the IPv4 address of the low 32 bits, and only mapped addresses', () => {
    fc.assert(
      fc.property(v6Value, (value) => {
        const a = parseAddress(formatAddress(6, value))
        const u = unmapped(a)
        if (value >> 32n === 0xffffn) expect(u).toEqual(parseAddress(modelText(4, value & 0xffffffffn)))
        else expect(u).toBe(a)
      }),
      RUNS,
    )
  })
})

/** Bits of a value as a string of 0 and 1, most significant first: the model of prefixes. */
function bits(family: IPFamily, value: bigint): string {
  return value.toString(2).padStart(family === 4 ? 32 : 128, '0')
}

const prefix = address.chain(({ family, value }) =>
  fc.integer({ min: 0, max: family === 4 ? 32 : 128 }).map((length) => ({ family, value, length })),
)
/** Two prefixes of one family that often share their first bits. */
const related = prefix.chain((p) =>
  fc
    .record({
      length: fc.integer({ min: 0, max: p.family === 4 ? 32 : 128 }),
      flip: fc.nat({ max: p.family === 4 ? 40 : 140 }),
    })
    .map(({ length, flip }) => {
      const width = p.family === 4 ? 32 : 128
      const value = flip < width ? p.value ^ (1n << BigInt(flip)) : p.value
      return [p, { family: p.family, value, length }] as const
    }),
)

function cidrText(p: { family: IPFamily; value: bigint; length: number }): string {
  return `${formatAddress(p.family, p.value)}/${p.length}`
}

describe('containment and overlap (properties, against a model of bit strings)', () => {
  it('parses prefixes: the network keeps the first bits and clears the rest', () => {
    fc.assert(
      fc.property(prefix, (p) => {
        const parsed = parseCIDR(cidrText(p))
        const b = bits(p.family, p.value)
        const width = b.length
        expect(bits(p.family, parsed.networkValue)).toBe(b.slice(0, p.length).padEnd(width, '0'))
        expect(bits(p.family, parsed.lastValue)).toBe(b.slice(0, p.length).padEnd(width, '1'))
        expect(parsed.address).toBe(formatAddress(p.family, p.value))
        expect(parsed.cidr).toBe(`${formatAddress(p.family, parsed.networkValue)}/${p.length}`)
        expect(parseCIDR(parsed.cidr).cidr).toBe(parsed.cidr)
        expect(prefixOf(parseAddress(parsed.address), p.length)).toEqual(parsed)
      }),
      RUNS,
    )
  })

  it('contains an address exactly when their first bits agree', () => {
    fc.assert(
      fc.property(related, ([p, q]) => {
        const model = bits(p.family, q.value).startsWith(bits(p.family, p.value).slice(0, p.length))
        const a = parseAddress(formatAddress(q.family, q.value))
        expect(containsAddress(parseCIDR(cidrText(p)), a)).toBe(model)
      }),
      RUNS,
    )
  })

  it('overlaps and contains prefixes exactly as their bit strings do', () => {
    fc.assert(
      fc.property(related, ([p, q]) => {
        const pb = bits(p.family, p.value).slice(0, p.length)
        const qb = bits(q.family, q.value).slice(0, q.length)
        const x = parseCIDR(cidrText(p))
        const y = parseCIDR(cidrText(q))
        expect(networksOverlap(x, y)).toBe(pb.startsWith(qb) || qb.startsWith(pb))
        expect(networksOverlap(y, x)).toBe(networksOverlap(x, y))
        expect(containsPrefix(x, y)).toBe(qb.startsWith(pb))
      }),
      RUNS,
    )
  })

  it('never mixes families', () => {
    fc.assert(
      fc.property(prefix, prefix, (p, q) => {
        fc.pre(p.family !== q.family)
        expect(networksOverlap(parseCIDR(cidrText(p)), parseCIDR(cidrText(q)))).toBe(false)
        expect(containsAddress(parseCIDR(cidrText(p)), parseAddress(formatAddress(q.family, q.value)))).toBe(false)
      }),
      RUNS,
    )
  })
})

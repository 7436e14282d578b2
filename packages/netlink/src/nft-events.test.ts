import { describe, expect, it } from 'vitest'
import { NFNL_SUBSYS_NFTABLES, parseNftEvent } from './nft-events.js'
import { encodeAttrs } from './nlattr.js'

const type = (msg: number): number => (NFNL_SUBSYS_NFTABLES << 8) | msg
/** nfgenmsg (family, version, res_id) then attributes. */
const payload = (family: number, attrs: Parameters<typeof encodeAttrs>[0]): Buffer =>
  Buffer.concat([Buffer.from([family, 0, 0, 0]), encodeAttrs(attrs)])

describe('parseNftEvent', () => {
  it('reads the table of an object message, and whether it added or deleted', () => {
    expect(parseNftEvent(type(2), payload(1, [{ type: 1, str: 'cnm' }]))).toEqual({ kind: 'delete', table: 'inet cnm' })
    expect(parseNftEvent(type(8), payload(2, [{ type: 1, str: 'nat' }]))).toEqual({ kind: 'delete', table: 'ip nat' })
    expect(parseNftEvent(type(14), payload(10, [{ type: 1, str: 'filter' }]))).toEqual({
      kind: 'delete',
      table: 'ip6 filter',
    })
    expect(parseNftEvent(type(12), payload(1, [{ type: 1, str: 'cnm' }]))).toEqual({ kind: 'add', table: 'inet cnm' })
  })

  it('reads who committed a generation (pid big-endian, the process name)', () => {
    const pid = Buffer.alloc(4)
    pid.writeUInt32BE(4242)
    const gen = Buffer.alloc(4)
    gen.writeUInt32BE(7)
    expect(
      parseNftEvent(
        type(15),
        payload(0, [
          { type: 1, bytes: gen },
          { type: 2, bytes: pid },
          { type: 3, str: 'nft' },
        ]),
      ),
    ).toEqual({ kind: 'generation', pid: 4242, process: 'nft' })
  })

  it('ignores other subsystems, reads (GET…) and short messages', () => {
    expect(parseNftEvent((1 << 8) | 2, payload(1, [{ type: 1, str: 'cnm' }]))).toBeUndefined()
    expect(parseNftEvent(type(1), payload(1, [{ type: 1, str: 'cnm' }]))).toBeUndefined()
    expect(parseNftEvent(type(2), Buffer.alloc(2))).toBeUndefined()
  })
})

import { describe, expect, it } from 'vitest'
import { errorBody, httpStatus } from './api/errors.js'
import { CliError, ERR_INVALID_ARGUMENT, formatError } from './errors.js'
import { formatIP, parseCidr, parseIP } from './ip.js'
import { parseListenAddress } from './listen-address.js'

describe('parseListenAddress (cnm serve --listen)', () => {
  it('takes IP:PORT and [IPv6]:PORT', () => {
    expect(parseListenAddress('127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375 })
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseListenAddress('[0:0::1]:80')).toEqual({ host: '::1', port: 80 })
  })
  it.each(['localhost:80', '127.0.0.1', '127.0.0.1:70000', '::1:80', ':80', '127.0.0.1:-1'])('refuses %j', (text) => {
    expect(() => parseListenAddress(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ARGUMENT }))
  })
})

describe('ip helpers', () => {
  it('parses and formats both families', () => {
    expect(parseIP('10.1.2.3')).toEqual({ family: 4, value: 0x0a010203n })
    expect(formatIP(6, parseIP('2001:db8:0:0:1:0:0:1')?.value ?? 0n)).toBe('2001:db8::1:0:0:1')
    expect(formatIP(6, parseIP('::ffff:10.0.0.1')?.value ?? 0n)).toBe('::ffff:a00:1')
    expect(formatIP(6, 0n)).toBe('::')
    expect(parseIP('fe80::1%eth0')).toBeUndefined()
    expect(parseCidr('10.0.0.7/24')).toMatchObject({ network: 0x0a000000n, last: 0x0a0000ffn, prefix: 24 })
    expect(parseCidr('10.0.0.0')).toBeUndefined()
  })
})

describe('errors', () => {
  it('formats one line with the code', () => {
    expect(formatError(new CliError(ERR_INVALID_ARGUMENT, 'bad\nthing'))).toBe('cnm: bad; thing (ERR_INVALID_ARGUMENT)')
    expect(formatError(new Error('plain'))).toBe('cnm: plain')
  })

  it('maps codes to HTTP statuses', () => {
    const e = (code: string): { code: string } => ({ code })
    expect(httpStatus(e('ERR_UNKNOWN_NETWORK'))).toBe(404)
    expect(httpStatus(e('ERR_UNKNOWN_SANDBOX'))).toBe(404)
    expect(httpStatus(e('ERR_NETWORK_NAME_EXISTS'))).toBe(409)
    expect(httpStatus(e('ERR_ACTIVE_ENDPOINTS'))).toBe(409)
    expect(httpStatus(e('ERR_PORT_ALREADY_ALLOCATED'))).toBe(409)
    expect(httpStatus(e('ERR_INVALID_CONFIG'))).toBe(400)
    expect(httpStatus(e('ERR_INVALID_PUBLISH_SPEC'))).toBe(400)
    expect(httpStatus(e('ERR_UNKNOWN_DRIVER'))).toBe(400)
    expect(httpStatus({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 })).toBe(400)
    expect(httpStatus(e('EPERM'))).toBe(500)
    expect(httpStatus(new Error('x'))).toBe(500)
    expect(errorBody(new Error('x'))).toEqual({ error: { code: 'ERR_INTERNAL', message: 'x' } })
  })
})

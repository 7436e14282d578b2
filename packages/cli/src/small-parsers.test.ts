import { ControllerError, ERR_CONTROLLER_CLOSED, ERR_UNKNOWN_DRIVER, ERR_UNKNOWN_NETWORK } from '@cnm/controller/errors'
import { ActiveEndpointsError, type ErrorKind, NotSupportedError, TeardownError } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { errorBody, httpStatus } from './api/errors.js'
import { endpointOptions } from './endpoint-options.js'
import { CliError, ERR_INVALID_ARGUMENT, ERR_INVALID_PUBLISH_SPEC, formatError } from './errors.js'
import { parseListenAddress } from './listen-address.js'
import { networkSpec } from './network-options.js'
import { parsePublishSpec } from './publish-spec.js'

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

describe('addresses in the flags (parsed by @cnm/ip)', () => {
  it('writes every address canonical, an IPv4-mapped one as IPv6 with its dotted quad', () => {
    expect(parseListenAddress('[::FFFF:127.0.0.1]:80')).toEqual({ host: '::ffff:127.0.0.1', port: 80 })
    expect(parsePublishSpec('[::ffff:a00:1]:8080:80').hostIP).toBe('::ffff:10.0.0.1')
    expect(parsePublishSpec('[2001:DB8:0:0:1:0:0:1]:8080:80').hostIP).toBe('2001:db8::1:0:0:1')
    expect(endpointOptions({ ip6: 'FD00:0::2' })).toEqual({ ipv6Address: 'fd00::2' })
    expect(networkSpec({ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.254'] }).ipam.v4[0]?.gateway?.text).toBe(
      '10.0.0.254',
    )
  })

  it('refuses an IPv4-mapped address where IPv4 is asked for, and zone indices', () => {
    expect(() => endpointOptions({ ip: '::ffff:10.0.0.5' })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_ARGUMENT }),
    )
    expect(() => endpointOptions({ ip6: 'fe80::1%eth0' })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_ARGUMENT }),
    )
    expect(() => networkSpec({ subnet: ['10.0.0.7/24'] })).toThrow('it should be 10.0.0.0/24 (host bits are set)')
  })
})

describe('errors', () => {
  it('formats one line with the code', () => {
    expect(formatError(new CliError(ERR_INVALID_ARGUMENT, 'bad\nthing'))).toBe('cnm: bad; thing (ERR_INVALID_ARGUMENT)')
    expect(formatError(new Error('plain'))).toBe('cnm: plain')
  })

  it('maps kinds to HTTP statuses, and every error to a body with its code and kind', () => {
    const e = (code: string, kind?: ErrorKind): { code: string; kind?: ErrorKind } => ({ code, kind })
    expect(httpStatus(new ControllerError(ERR_UNKNOWN_NETWORK, 'unknown network x'))).toBe(404)
    expect(httpStatus(e('ERR_UNKNOWN_SANDBOX', 'not-found'))).toBe(404)
    expect(httpStatus(e('ERR_NETWORK_NAME_EXISTS', 'conflict'))).toBe(409)
    expect(httpStatus(new ActiveEndpointsError('n1', 2))).toBe(409)
    expect(httpStatus(e('ERR_INVALID_CONFIG', 'invalid'))).toBe(400)
    expect(httpStatus(new CliError(ERR_INVALID_PUBLISH_SPEC, 'bad'))).toBe(400)
    expect(httpStatus(new ControllerError(ERR_UNKNOWN_DRIVER, 'unknown driver "x"'))).toBe(400)
    expect(httpStatus(new NotSupportedError('no sctp'))).toBe(400)
    expect(httpStatus(new TeardownError('delete network n1', [new Error('x')]))).toBe(500)
    expect(httpStatus(new ControllerError(ERR_CONTROLLER_CLOSED, 'closed'))).toBe(503)
    // The kind of a cause counts when the error has none of its own.
    expect(httpStatus(Object.assign(new Error('wrapped'), { cause: e('EEXIST', 'conflict') }))).toBe(409)
    expect(httpStatus({ code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400 })).toBe(400)
    expect(httpStatus({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).toBe(413)
    expect(httpStatus(e('EPERM'))).toBe(500) // no kind: 500
    // A resource limit is 503, whoever wrapped it and whatever kind the wrapper gave.
    expect(errorBody(Object.assign(new Error('spawn nft EMFILE'), { code: 'EMFILE' }))).toEqual({
      error: { code: 'EMFILE', kind: 'unavailable', message: 'spawn nft EMFILE' },
    })
    expect(
      httpStatus(new TeardownError('delete network n1', [Object.assign(new Error('x'), { code: 'ENFILE' })])),
    ).toBe(500)
    expect(httpStatus(Object.assign(new Error('open'), { cause: e('EMFILE', 'kernel') }))).toBe(503)
    expect(httpStatus(new Error('x'))).toBe(500)
    expect(errorBody(new Error('x'))).toEqual({ error: { code: 'ERR_INTERNAL', kind: 'internal', message: 'x' } })
    expect(errorBody(new CliError(ERR_INVALID_ARGUMENT, 'bad'))).toEqual({
      error: { code: ERR_INVALID_ARGUMENT, kind: 'invalid', message: 'bad' },
    })
    expect(errorBody({ code: 'FST_ERR_NOT_FOUND', statusCode: 404, message: 'x' }).error.kind).toBe('not-found')
  })

  it('maps the codes of packages whose errors have no kind yet by a fallback table', () => {
    const e = (code: string): { code: string } => ({ code })
    expect(httpStatus(e('ERR_PORT_ALREADY_ALLOCATED'))).toBe(409)
    expect(httpStatus(e('ERR_NO_AVAILABLE_IPS'))).toBe(409)
    expect(httpStatus(e('ERR_INVALID_CIDR'))).toBe(400)
    expect(errorBody(e('ERR_ALL_PORTS_ALLOCATED')).error.kind).toBe('conflict')
  })
})

import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createClient } from './client.js'
import { CnmClientError, ERR_BAD_RESPONSE, ERR_DAEMON_UNREACHABLE, errorFromBody } from './errors.js'
import { formatHost, parseHost } from './host.js'
import { API } from './schema/index.js'

describe('parseHost', () => {
  it('takes unix:// URLs, absolute socket paths and tcp://HOST:PORT', () => {
    expect(parseHost('unix:///run/cnm/cnm.sock')).toEqual({ kind: 'unix', path: '/run/cnm/cnm.sock' })
    expect(parseHost('/tmp/x.sock')).toEqual({ kind: 'unix', path: '/tmp/x.sock' })
    expect(parseHost('tcp://127.0.0.1:2376')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2376 })
    expect(parseHost('tcp://[::1]:2376/')).toEqual({ kind: 'tcp', host: '::1', port: 2376 })
    expect(parseHost('tcp://daemon.example:2376')).toEqual({ kind: 'tcp', host: 'daemon.example', port: 2376 })
    expect(formatHost(parseHost('tcp://[::1]:2376'))).toBe('tcp://[::1]:2376')
    expect(formatHost(parseHost('/tmp/x.sock'))).toBe('unix:///tmp/x.sock')
  })
  it.each(['unix://relative', 'tcp://host', 'tcp://host:0', 'tcp://host:70000', 'http://x:1', 'sock'])(
    'refuses %s',
    (h) => {
      expect(() => parseHost(h)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HOST', kind: 'invalid' }))
    },
  )
})

describe('errors', () => {
  it('rebuilds an error body with its code, kind and status', () => {
    const e = errorFromBody(409, '{"error":{"code":"ERR_X","kind":"conflict","message":"taken"}}')
    expect(e).toBeInstanceOf(CnmClientError)
    expect(e).toMatchObject({ name: 'CnmClientError', code: 'ERR_X', kind: 'conflict', message: 'taken', status: 409 })
    expect(errorFromBody(400, '{"error":{"code":"ERR_X","kind":"weird","message":"m"}}').kind).toBe('internal')
    expect(errorFromBody(502, '<html>')).toMatchObject({ code: ERR_BAD_RESPONSE, status: 502 })
  })
})

describe('createClient over a unix socket', () => {
  let tmp: string
  let server: Server
  let socketPath: string
  const seen: { method: string; url: string; type: string | undefined; body: string }[] = []

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-client-'))
    socketPath = path.join(tmp, 's.sock')
    server = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => {
        body += d
      })
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', type: req.headers['content-type'], body })
        if (req.url === '/v1/networks/missing') {
          res.writeHead(404, { 'content-type': 'application/json' })
          res.end('{"error":{"code":"ERR_UNKNOWN_NETWORK","kind":"not-found","message":"unknown network missing"}}')
        } else if (req.url === '/_ping') {
          res.writeHead(200, { 'content-type': 'text/plain' })
          res.end('OK')
        } else if (req.url?.startsWith('/v1/events')) {
          res.writeHead(200, { 'content-type': 'application/x-ndjson' })
          res.write('{"time":"t","type":"network","action":"create","id":"1","name":"a"}\n{"time":"t","type":"netw')
          setTimeout(() => res.end('ork","action":"delete","id":"1","name":"a"}\n'), 20)
        } else {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
          res.end(JSON.stringify({ echo: req.url }))
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    rmSync(tmp, { recursive: true, force: true })
  })

  it('has one method per operation of the API', () => {
    const client = createClient({ host: socketPath })
    for (const id of Object.keys(API))
      expect(typeof (client as unknown as Record<string, unknown>)[id], id).toBe('function')
    client.close()
  })

  it('sends each method to its route, JSON bodies with their type, references URL-encoded', async () => {
    const client = createClient({ host: `unix://${socketPath}` })
    await client.createNetwork({ name: 'n', subnet: '10.0.0.0/24' })
    await client.inspectSandbox('/run/cnm/netns/c 1')
    await client.removeEndpoint('n', 'e/1')
    await client.listPorts({ network: 'n' })
    await client.reconcile()
    expect(await client.ping()).toBe('OK')
    client.close()
    expect(seen.slice(0, 5)).toEqual([
      { method: 'POST', url: '/v1/networks', type: 'application/json', body: '{"name":"n","subnet":"10.0.0.0/24"}' },
      { method: 'GET', url: '/v1/sandboxes/%2Frun%2Fcnm%2Fnetns%2Fc%201', type: undefined, body: '' },
      { method: 'DELETE', url: '/v1/networks/n/endpoints/e%2F1', type: undefined, body: '' },
      { method: 'GET', url: '/v1/ports?network=n', type: undefined, body: '' },
      { method: 'POST', url: '/v1/reconcile', type: 'application/json', body: '{}' },
    ])
  })

  it('throws the daemon error with its code and kind', async () => {
    const client = createClient({ host: socketPath })
    await expect(client.inspectNetwork('missing')).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_NETWORK',
      kind: 'not-found',
      status: 404,
    })
    client.close()
  })

  it('reads events line by line, across chunks', async () => {
    const client = createClient({ host: socketPath })
    const got = []
    for await (const e of client.events()) got.push(`${e.type} ${e.action}`)
    expect(got).toEqual(['network create', 'network delete'])
    client.close()
  })

  it('says that the daemon is unreachable when nothing listens', async () => {
    const client = createClient({ host: path.join(tmp, 'none.sock') })
    await expect(client.version()).rejects.toMatchObject({
      code: ERR_DAEMON_UNREACHABLE,
      kind: 'unavailable',
      message: expect.stringContaining('(ENOENT): is `cnm serve` running?'),
    })
  })
})

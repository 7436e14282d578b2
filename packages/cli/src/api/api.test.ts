import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CnmClient, createClient, type Event } from '@cnm/client'
import { createController } from '@cnm/controller'
import { createMemorySandboxes } from '@cnm/controller/testing'
import { createMemoryDriver } from '@cnm/driverapi/testing'
import { validate } from '@readme/openapi-parser'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ApiServerHandle, serveApi } from '../serve.js'
import { buildOpenApiDocument } from './openapi.js'

// The whole REST API on the in-memory driver (registered as `bridge`) and in-memory sandboxes:
// no root, no kernel. Each answer is checked against the schema the served OpenAPI document gives
// for its status, with a validator that is not Fastify's.

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  json: unknown
}

type Doc = {
  openapi: string
  info: { version: string }
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>
  components: { schemas: Record<string, unknown> }
}

function raw(socketPath: string, method: string, url: string, body?: string, type?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = type ? { 'content-type': type } : {}
    const req = httpRequest({ socketPath, method, path: url, headers }, (res) => {
      let text = ''
      res.on('data', (d) => {
        text += d
      })
      res.on('end', () => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

const json = (socketPath: string, method: string, url: string, body?: unknown): Promise<Answer> =>
  raw(socketPath, method, url, body === undefined ? undefined : JSON.stringify(body), 'application/json')

describe('the REST API (in-memory driver, no kernel)', () => {
  let tmp: string
  let socketPath: string
  let server: ApiServerHandle
  let controller: Awaited<ReturnType<typeof createController>>
  let client: CnmClient
  let doc: Doc

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-api-'))
    socketPath = path.join(tmp, 'cnm.sock')
    controller = await createController({
      storePath: false,
      sandboxDir: path.join(tmp, 'sb'),
      drivers: { bridge: (ctx) => createMemoryDriver(ctx) },
      sandboxBackend: createMemorySandboxes(path.join(tmp, 'sb')),
    })
    server = await serveApi({ controller, socketPath, socketGroup: false })
    client = createClient({ host: `unix://${socketPath}` })
    doc = (await client.openapi()) as Doc
  })
  afterAll(async () => {
    client?.close()
    await server?.close()
    await controller?.close()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('serves an OpenAPI 3.1 document that a validator accepts, equal to the committed openapi.json', async () => {
    expect(doc.openapi).toBe('3.1.0')
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
    const committed = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8')) as Doc
    const fresh = (await buildOpenApiDocument()) as Doc
    const sansVersion = (d: Doc): unknown => ({ ...d, info: { ...d.info, version: '*' } })
    expect(sansVersion(fresh), 'openapi.json is stale: node packages/cli/scripts/write-openapi.mjs').toEqual(
      sansVersion(committed),
    )
    expect(sansVersion(doc)).toEqual(sansVersion(committed))
  })

  it('answers every route of the document as it describes (status and body schema)', async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true })
    ajv.addSchema({ $id: 'doc', components: doc.components })
    const check = (route: string, status: number, body: unknown): void => {
      const [p, m] = route.split(' ') as [string, string]
      const op = doc.paths[p]?.[m.toLowerCase()]
      const response = op?.responses[String(status)] as { content?: Record<string, { schema: unknown }> } | undefined
      expect(response, `${route} answered ${status}, which the document does not list`).toBeDefined()
      const media = Object.keys(response?.content ?? {})[0]
      if (media !== 'application/json') return
      const schema = JSON.parse(
        JSON.stringify(response?.content?.[media]?.schema).replaceAll('"#/components', '"doc#/components'),
      )
      const ok = ajv.validate(schema, body)
      expect(ok, `${route} ${status}: ${ajv.errorsText()}`).toBe(true)
    }
    // Every operation, in an order that makes each one meaningful; each must be in the document.
    const calls: [string, string, string, unknown?][] = [
      ['ping', 'GET', '/_ping'],
      ['version', 'GET', '/v1/version'],
      ['info', 'GET', '/v1/info'],
      ['openapi', 'GET', '/v1/openapi.json'],
      ['createNetwork', 'POST', '/v1/networks', { name: 'n1', options: { index: 7 } }],
      ['listNetworks', 'GET', '/v1/networks'],
      ['inspectNetwork', 'GET', '/v1/networks/n1'],
      ['createSandbox', 'POST', '/v1/sandboxes', { containerID: 's1' }],
      ['listSandboxes', 'GET', '/v1/sandboxes'],
      ['inspectSandbox', 'GET', '/v1/sandboxes/s1'],
      ['sandboxResolver', 'GET', '/v1/sandboxes/s1/resolver'],
      ['createEndpoint', 'POST', '/v1/networks/n1/endpoints', { name: 'e1', publish: '8080:80' }],
      ['listNetworkEndpoints', 'GET', '/v1/networks/n1/endpoints'],
      ['inspectEndpoint', 'GET', '/v1/networks/n1/endpoints/e1'],
      ['listEndpoints', 'GET', '/v1/endpoints'],
      ['connect', 'POST', '/v1/networks/n1/connect', { sandbox: 's1', endpoint: 'e1' }],
      ['listPorts', 'GET', '/v1/ports?network=n1'],
      ['disconnect', 'POST', '/v1/networks/n1/disconnect', { sandbox: 's1' }],
      ['createEndpoint', 'POST', '/v1/networks/n1/endpoints', { name: 'e2' }],
      ['removeEndpoint', 'DELETE', '/v1/networks/n1/endpoints/e2'],
      ['removeSandbox', 'DELETE', '/v1/sandboxes/s1'],
      ['removeNetwork', 'DELETE', '/v1/networks/n1'],
      ['pruneNetworks', 'POST', '/v1/networks/prune', { label: ['none'] }],
      ['reconcile', 'POST', '/v1/reconcile'],
    ]
    const inDoc = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId))
    const called = new Set(calls.map((c) => c[0]))
    expect([...inDoc].filter((id) => id !== 'events' && !called.has(id))).toEqual([]) // events: below
    for (const [id, method, url, body] of calls) {
      const a = await json(socketPath, method, url, body)
      const p = Object.entries(doc.paths).find(([, ops]) => ops[method.toLowerCase()]?.operationId === id)?.[0]
      expect(a.status, `${id}: ${a.text}`).toBeLessThan(300)
      check(`${p} ${method}`, a.status, a.json)
    }
    // Errors are described too: a 404, a 409, a 400.
    const missing = await json(socketPath, 'GET', '/v1/networks/nope')
    check('/v1/networks/{network} GET', missing.status, missing.json)
    expect(missing.json).toMatchObject({ error: { code: 'ERR_UNKNOWN_NETWORK', kind: 'not-found' } })
    const bad = await json(socketPath, 'POST', '/v1/networks', { name: 5 })
    check('/v1/networks POST', bad.status, bad.json)
  })

  it('refuses what breaks a schema with 400 ERR_INVALID_REQUEST naming the field', async () => {
    const cases: [string, string, unknown, string][] = [
      ['POST', '/v1/networks', { name: 'x', colour: 'red' }, 'body has an unknown field "colour"'],
      ['POST', '/v1/networks', {}, 'body/name is required'],
      ['POST', '/v1/networks', { name: 'x', subnet: 5 }, 'body/subnet must be string, or must be array'],
      ['POST', '/v1/networks', { name: 'x', mtu: 10 }, 'body/mtu must be >= 68'],
      [
        'POST',
        '/v1/networks/n/endpoints',
        { name: 'e', portBindings: [{ proto: 'tcp', containerPort: 70000 }] },
        'body/portBindings/0/containerPort must be <= 65535',
      ],
      [
        'POST',
        '/v1/networks/n/connect',
        { sandbox: 's', portBindings: [{ proto: 'icmp', containerPort: 1 }] },
        'body/portBindings/0/proto must be "tcp", or must be "udp", or must be "sctp"',
      ],
      ['GET', '/v1/events?type=bogus', undefined, 'querystring/type must be "network"'],
    ]
    for (const [method, url, body, text] of cases) {
      const a = await json(socketPath, method, url, body)
      expect(a.status, `${method} ${url}`).toBe(400)
      expect(a.json).toEqual({ error: { code: 'ERR_INVALID_REQUEST', kind: 'invalid', message: expect.any(String) } })
      expect((a.json as { error: { message: string } }).error.message).toContain(text)
    }
    // A body that is not JSON: 400; not JSON at all: 415; a wrong method: 405 with Allow.
    const notJson = await raw(socketPath, 'POST', '/v1/networks', '{bad', 'application/json')
    expect(notJson).toMatchObject({ status: 400, json: { error: { code: 'ERR_INVALID_REQUEST', kind: 'invalid' } } })
    const text = await raw(socketPath, 'POST', '/v1/networks', 'name=x', 'text/plain')
    expect(text).toMatchObject({ status: 415, json: { error: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' } } })
    const put = await raw(socketPath, 'PUT', '/v1/networks/n1')
    expect(put).toMatchObject({ status: 405, json: { error: { code: 'ERR_METHOD_NOT_ALLOWED', kind: 'invalid' } } })
    expect(put.headers.allow).toBe('GET, DELETE, HEAD')
    expect(await raw(socketPath, 'GET', '/v1/nope')).toMatchObject({
      status: 404,
      json: { error: { code: 'ERR_NOT_FOUND', kind: 'not-found' } },
    })
  })

  it('takes a DELETE with content-type application/json and no body, as curl sends it', async () => {
    await client.createNetwork({ name: 'curl' })
    const a = await raw(socketPath, 'DELETE', '/v1/networks/curl', '', 'application/json')
    expect(a.status).toBe(200)
    expect(a.json).toMatchObject({ name: 'curl' })
  })

  it('refuses an overlapping subnet with 409 ERR_NETWORK_OVERLAPS naming the network', async () => {
    await client.createNetwork({ name: 'first', options: { index: 9 } }) // 10.0.9.0/24
    const a = await json(socketPath, 'POST', '/v1/networks', { name: 'second', subnet: '10.0.9.128/25' })
    expect(a).toMatchObject({ status: 409, json: { error: { code: 'ERR_NETWORK_OVERLAPS', kind: 'conflict' } } })
    expect((a.json as { error: { message: string } }).error.message).toBe(
      'network second: subnet 10.0.9.128/25 overlaps network first (10.0.9.0/24)',
    )
    await expect(client.createNetwork({ name: 'second', subnet: '10.0.0.0/16' })).rejects.toMatchObject({
      code: 'ERR_NETWORK_OVERLAPS',
      kind: 'conflict',
      status: 409,
    })
    await client.removeNetwork('first')
  })

  it('streams events as NDJSON: create, connect, publish, disconnect, unpublish, delete', async () => {
    const ac = new AbortController()
    const got: Event[] = []
    const stream = (async () => {
      for await (const e of client.events({ signal: ac.signal })) {
        got.push(e)
        if (e.type === 'network' && e.action === 'delete') break
      }
    })()
    const subscribed = async (): Promise<void> => {
      for (let i = 0; i < 100 && server.events.subscribers === 0; i++) await new Promise((r) => setTimeout(r, 10))
    }
    await subscribed()
    await client.createNetwork({ name: 'ev' })
    await client.createSandbox({ containerID: 'evs' })
    await client.connect('ev', { sandbox: 'evs', publish: ['9090:90'] })
    await client.disconnect('ev', { sandbox: 'evs' })
    await client.removeSandbox('evs')
    await client.removeNetwork('ev')
    await stream
    ac.abort()
    expect(got.map((e) => `${e.type} ${e.action} ${e.name}`)).toEqual([
      'network create ev',
      'sandbox create evs',
      'endpoint create evs',
      'endpoint connect evs',
      'endpoint publish evs',
      'endpoint unpublish evs',
      'endpoint disconnect evs',
      'endpoint delete evs',
      'sandbox delete evs',
      'network delete ev',
    ])
    expect(got[4]).toMatchObject({ network: 'ev', port: { proto: 'tcp', hostPort: 9090, containerPort: 90 } })
    expect(got[3]).toMatchObject({ sandbox: 'evs', network: 'ev' })
    for (const e of got) expect(Number.isNaN(Date.parse(e.time))).toBe(false)
    // the raw stream is NDJSON
    const head = await new Promise<string>((resolve, reject) => {
      const req = httpRequest({ socketPath, path: '/v1/events?type=network' }, (res) => {
        expect(res.headers['content-type']).toBe('application/x-ndjson')
        res.once('data', (d) => {
          resolve(String(d))
          req.destroy()
        })
      })
      req.on('error', reject)
      req.end()
      setTimeout(() => void client.createNetwork({ name: 'ev2' }), 50)
    })
    expect(head.endsWith('\n')).toBe(true)
    expect(JSON.parse(head)).toMatchObject({ type: 'network', action: 'create', name: 'ev2' })
    await client.removeNetwork('ev2')
  })

  it('the client rebuilds errors with code, kind and status', async () => {
    await expect(client.inspectSandbox('nope')).rejects.toMatchObject({
      name: 'CnmClientError',
      code: 'ERR_UNKNOWN_SANDBOX',
      kind: 'not-found',
      status: 404,
    })
    expect(await client.ping()).toBe('OK')
    expect(await client.version()).toEqual({ version: expect.any(String) })
  })
})

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController, type EndpointInspect, type NetworkInspect } from '@cnm/controller'
import { describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import { ERR_PORT_ALREADY_ALLOCATED, PortAllocator } from '@cnm/portallocator'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { serveApi } from './serve.js'
import { cnm, fails, ok, okJSON, start, stop } from './test/cnm.js'

type Target = { socketPath: string } | { port: number }

interface Answer {
  status: number
  body: unknown
}

/** One HTTP request to the API (over the unix socket or TCP on 127.0.0.1). */
function api(target: Target, method: string, urlPath: string, body?: unknown, raw?: string): Promise<Answer> {
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...('socketPath' in target ? { socketPath: target.socketPath } : { host: '127.0.0.1', port: target.port }),
        method,
        path: urlPath,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = ''
        res.on('data', (d) => {
          text += d
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

const error = (code: string, kind: string): { error: { code: string; kind: string; message: string } } => ({
  error: { code, kind, message: expect.any(String) },
})

describeKernel('cnm serve (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-serve-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'run', 'cnm.sock')
  })
  afterEach(() => {
    // Whatever a failed test left: sandboxes (with their endpoints), endpoints, networks.
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const e of list<EndpointInspect>('endpoint')) cnm(g('endpoint', 'rm', e.network.id, e.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  it('serves the REST API over a unix socket and a reserved TCP port; SIGTERM stops it cleanly', async () => {
    // A stale socket file (its server was killed) is removed first.
    mkdirSync(path.dirname(socketPath), { recursive: true })
    const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))"
    run(process.execPath, ['-e', script, socketPath], { check: false })
    expect(statSync(socketPath).isSocket()).toBe(true)

    const { child, output } = await start(g('serve', '--socket', socketPath, '--listen', '127.0.0.1:0'), 2)
    try {
      expect(output[0]).toBe(`listening on unix:${socketPath}`)
      const port = Number(/^listening on http:\/\/127\.0\.0\.1:(\d+)$/u.exec(output[1] ?? '')?.[1])
      expect(port).toBeGreaterThan(0)
      const st = statSync(socketPath)
      expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o660, 0, 0])
      const unix = { socketPath }
      const tcp = { port }

      expect(await api(unix, 'GET', '/v1/version')).toEqual({ status: 200, body: { version: expect.any(String) } })
      const made = await api(unix, 'POST', '/v1/networks', { name: 'api', subnet: '10.210.0.0/24', icc: false })
      expect(made).toMatchObject({
        status: 201,
        body: { name: 'api', subnet: '10.210.0.0/24', gateway: '10.210.0.1', icc: false },
      })
      expect(await api(tcp, 'POST', '/v1/networks', { name: 'api' })).toEqual({
        status: 409,
        body: error('ERR_NETWORK_NAME_EXISTS', 'conflict'),
      })
      expect(await api(unix, 'POST', '/v1/networks', { name: 'x', subnet: 'bogus' })).toEqual({
        status: 400,
        body: error('ERR_INVALID_ARGUMENT', 'invalid'),
      })
      expect(await api(unix, 'POST', '/v1/networks', { name: 'x', colour: 'red' })).toEqual({
        status: 400,
        body: error('ERR_INVALID_ARGUMENT', 'invalid'),
      })
      expect(await api(unix, 'POST', '/v1/networks', { name: 'x', options: { bogus: 1 } })).toEqual({
        status: 400,
        body: error('ERR_INVALID_CONFIG', 'invalid'),
      })
      expect(await api(unix, 'POST', '/v1/networks', undefined, '{bad')).toMatchObject({
        status: 400,
        body: { error: { code: expect.stringMatching(/^FST_/u), kind: 'invalid' } },
      })
      expect(await api(unix, 'GET', '/v1/networks/nope')).toEqual({
        status: 404,
        body: error('ERR_UNKNOWN_NETWORK', 'not-found'),
      })
      expect(await api(unix, 'GET', '/v1/nope')).toEqual({ status: 404, body: error('ERR_NOT_FOUND', 'not-found') })
      expect(((await api(tcp, 'GET', '/v1/networks')).body as NetworkInspect[]).map((n) => n.name)).toEqual(['api'])

      expect(await api(unix, 'POST', '/v1/sandboxes', { containerID: 's1' })).toMatchObject({
        status: 201,
        body: { containerID: 's1' },
      })
      const joined = await api(unix, 'POST', '/v1/networks/api/connect', { sandbox: 's1', publish: ['127.0.0.1::80'] })
      expect(joined).toMatchObject({
        status: 201,
        body: { name: 's1', joined: { interface: 'eth0' }, ports: [{ hostIP: '127.0.0.1' }] },
      })
      // The API server's own port cannot be published: not by the server's process, nor by another.
      const grab = await api(unix, 'POST', '/v1/networks/api/endpoints', { name: 'grab', publish: [`${port}:80`] })
      expect(grab).toEqual({ status: 409, body: error(ERR_PORT_ALREADY_ALLOCATED, 'conflict') })
      expect(
        fails(g('endpoint', 'create', 'api', 'grab', '-p', `127.0.0.1:${port}:80`), ERR_PORT_ALREADY_ALLOCATED),
      ).toContain(`127.0.0.1:${port}`)
      expect(
        await api(unix, 'POST', '/v1/networks/api/endpoints', {
          name: 'e2',
          portBindings: [{ proto: 'tcp', containerPort: 81 }],
        }),
      ).toMatchObject({
        status: 201,
        body: { name: 'e2', ports: [{ containerPort: 81 }] },
      })
      expect((await api(unix, 'GET', '/v1/ports?network=api')).body).toHaveLength(2)
      expect(((await api(tcp, 'GET', '/v1/endpoints')).body as EndpointInspect[]).map((e) => e.name).sort()).toEqual([
        'e2',
        's1',
      ])
      expect(await api(unix, 'GET', '/v1/networks/api/endpoints/e2')).toMatchObject({
        status: 200,
        body: { name: 'e2' },
      })
      const key = encodeURIComponent(path.join(sandboxDir, 's1'))
      expect(await api(unix, 'GET', `/v1/sandboxes/${key}`)).toMatchObject({
        status: 200,
        body: { containerID: 's1', endpoints: [{ name: 's1' }] },
      })

      // The CLI works on the same store meanwhile; each sees what the other made.
      ok(g('network', 'create', 'cli-made', '--subnet', '10.211.0.0/24'))
      expect(await api(unix, 'GET', '/v1/networks/cli-made')).toMatchObject({
        status: 200,
        body: { subnet: '10.211.0.0/24' },
      })
      expect(
        okJSON<NetworkInspect[]>(g('network', 'ls', '--json'))
          .map((n) => n.name)
          .sort(),
      ).toEqual(['api', 'cli-made'])
      fails(g('serve', '--socket', socketPath), 'ERR_SOCKET_IN_USE')

      expect(await api(unix, 'DELETE', '/v1/networks/api')).toEqual({
        status: 409,
        body: error('ERR_ACTIVE_ENDPOINTS', 'conflict'),
      })
      expect(await api(unix, 'POST', '/v1/networks/api/disconnect', { sandbox: 's1' })).toEqual({
        status: 204,
        body: undefined,
      })
      expect(await api(unix, 'POST', '/v1/networks/api/disconnect', { sandbox: 's1' })).toEqual({
        status: 409,
        body: error('ERR_NOT_JOINED', 'conflict'),
      })
      expect(await api(unix, 'DELETE', '/v1/networks/api/endpoints/e2')).toEqual({ status: 204, body: undefined })
      expect(await api(unix, 'DELETE', '/v1/sandboxes/s1')).toEqual({ status: 204, body: undefined })
      expect(await api(unix, 'DELETE', '/v1/sandboxes/s1')).toEqual({
        status: 404,
        body: error('ERR_UNKNOWN_SANDBOX', 'not-found'),
      })
      expect(await api(tcp, 'DELETE', '/v1/networks/api')).toEqual({ status: 204, body: undefined })
      expect(await api(unix, 'DELETE', '/v1/networks/cli-made')).toEqual({ status: 204, body: undefined })
      expect(await api(unix, 'POST', '/v1/reconcile')).toMatchObject({
        status: 200,
        body: { errors: [], droppedEndpoints: [] },
      })
    } finally {
      expect(await stop(child, 'SIGTERM')).toBe(0)
    }
    expect(existsSync(socketPath)).toBe(false)
    expect(okJSON(g('network', 'ls', '--json'))).toEqual([])
  })

  it('serveApi reserves its TCP port in the allocator before binding and releases it on close', async () => {
    const controller = await createController({ storePath: false, sandboxDir })
    const allocator = new PortAllocator({ syncWithOS: false }) // only what serveApi reserved counts
    const lib = path.join(tmp, 'lib.sock')
    const server = await serveApi({ controller, socketPath: lib, listen: { host: '127.0.0.1', port: 0 }, allocator })
    try {
      const port = server.tcp?.port ?? 0
      expect(port).toBeGreaterThanOrEqual(allocator.begin)
      expect(() => allocator.requestPort('0.0.0.0', 'tcp', port)).toThrow(
        expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED }),
      )
      expect(await api({ port }, 'GET', '/v1/networks')).toEqual({ status: 200, body: [] })
      expect(await api({ socketPath: lib }, 'GET', '/v1/sandboxes')).toEqual({ status: 200, body: [] })
      await server.close()
      expect(allocator.requestPort('127.0.0.1', 'tcp', port)).toBe(port) // released
      expect(existsSync(lib)).toBe(false)
    } finally {
      await server.close()
      await controller.close()
    }
  })
})

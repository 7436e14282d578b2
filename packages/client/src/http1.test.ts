import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BrokenAnswer, Http1Client } from './http1.js'

let dir: string
let sock: string
const servers: Server[] = []

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cnm-http1-'))
  sock = path.join(dir, 's.sock')
})
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
  rmSync(dir, { recursive: true, force: true })
})

/** node:http's own server (what the daemon's Fastify sits on), counting connections. */
async function serve(
  handler: Parameters<typeof createServer>[1],
): Promise<{ connections: () => number; server: Server }> {
  let n = 0
  const server = createServer(handler)
  server.on('connection', () => n++)
  servers.push(server)
  await new Promise<void>((r) => server.listen(sock, r))
  return { connections: () => n, server }
}

describe('the minimal HTTP/1.1 client', () => {
  it('reads content-length, chunked and empty answers, and sends the body and headers', async () => {
    await serve((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('{"a":')
          res.end('1}')
        } else if (req.url === '/empty') {
          res.statusCode = 204
          res.end()
        } else {
          res.setHeader('content-type', 'application/json')
          res.end(
            JSON.stringify({ method: req.method, host: req.headers.host, type: req.headers['content-type'], body }),
          )
        }
      })
    })
    const c = new Http1Client({ path: sock }, 'cnm')
    const payload = JSON.stringify({ name: 'n1' })
    const a = await c.request(
      'POST',
      '/v1/x',
      { 'content-type': 'application/json', 'content-length': `${payload.length}` },
      payload,
    )
    expect(a.status).toBe(200)
    expect(a.headers['content-type']).toBe('application/json')
    expect(JSON.parse(a.body.toString())).toEqual({
      method: 'POST',
      host: 'cnm',
      type: 'application/json',
      body: payload,
    })
    const chunked = await c.request('GET', '/chunked', {})
    expect(chunked.headers['transfer-encoding']).toBe('chunked')
    expect(chunked.body.toString()).toBe('{"a":1}')
    expect((await c.request('DELETE', '/empty', {})).status).toBe(204)
    c.close()
  })

  it('keeps one connection for the next request, and connects again when the daemon closed it', async () => {
    const { connections, server } = await serve((_req, res) => res.end('ok'))
    const c = new Http1Client({ path: sock }, 'cnm')
    for (let i = 0; i < 3; i++) expect((await c.request('GET', '/', {})).body.toString()).toBe('ok')
    expect(connections()).toBe(1)
    server.closeIdleConnections() // as a daemon's keep-alive timeout does
    await new Promise((r) => setTimeout(r, 50))
    expect((await c.request('GET', '/', {})).body.toString()).toBe('ok')
    expect(connections()).toBe(2)
    c.close()
  })

  it('rejects with the socket error when nothing listens, and a broken answer as such', async () => {
    const c = new Http1Client({ path: sock }, 'cnm')
    await expect(c.request('GET', '/', {})).rejects.toMatchObject({ code: 'ENOENT' })
    const raw = createNetServer((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort'))
    await new Promise<void>((r) => raw.listen(sock, r))
    await expect(c.request('GET', '/', {})).rejects.toBeInstanceOf(BrokenAnswer)
    raw.close()
  })
})

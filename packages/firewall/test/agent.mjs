// A test agent started inside one network namespace: it serves TCP and UDP, and makes
// connections, on request. Requests and answers are JSON lines on stdin and stdout.
import { createSocket } from 'node:dgram'
import { createServer, connect as tcpConnect } from 'node:net'
import { createInterface } from 'node:readline'

const name = process.argv[2] ?? 'agent'
const servers = []
const plain = (addr) => (addr ?? '').replace(/^::ffff:/u, '')

function reply(id, body) {
  process.stdout.write(`${JSON.stringify({ id, ...body })}\n`)
}

function listen({ proto, port }) {
  return new Promise((resolve, reject) => {
    if (proto === 'tcp') {
      const server = createServer((sock) => sock.end(`${name} ${port} ${plain(sock.remoteAddress)}`))
      server.once('error', reject)
      server.listen({ port, host: '::', ipv6Only: false }, () => resolve())
      servers.push(server)
    } else {
      const sock = createSocket({ type: 'udp6', ipv6Only: false })
      sock.on('message', (_msg, from) => sock.send(`${name} ${port} ${plain(from.address)}`, from.port, from.address))
      sock.once('error', reject)
      sock.bind(port, '::', () => resolve())
      servers.push(sock)
    }
  })
}

function connect({ proto, host, port, timeoutMs }) {
  return new Promise((resolve) => {
    const done = (body) => {
      clearTimeout(timer)
      resolve(body)
    }
    const timer = setTimeout(() => {
      sock.destroy?.()
      sock.close?.()
      done({ ok: false, error: 'ETIMEDOUT' })
    }, timeoutMs)
    let sock
    if (proto === 'tcp') {
      let data = ''
      sock = tcpConnect({ host, port })
      sock.on('data', (b) => {
        data += b
      })
      sock.on('end', () => done({ ok: true, data }))
      sock.on('error', (e) => done({ ok: false, error: e.code ?? e.message }))
    } else {
      sock = createSocket(host.includes(':') ? 'udp6' : 'udp4')
      sock.on('message', (msg) => {
        sock.close()
        done({ ok: true, data: String(msg) })
      })
      sock.on('error', (e) => {
        sock.close()
        done({ ok: false, error: e.code ?? e.message })
      })
      sock.connect(port, host, () => sock.send('ping'))
    }
  })
}

const lines = createInterface({ input: process.stdin })
lines.on('line', async (line) => {
  const req = JSON.parse(line)
  try {
    if (req.op === 'listen') reply(req.id, { ok: true, data: await listen(req) })
    else if (req.op === 'connect') reply(req.id, await connect(req))
    else reply(req.id, { ok: false, error: `unknown op ${req.op}` })
  } catch (e) {
    reply(req.id, { ok: false, error: e.code ?? e.message })
  }
})
lines.on('close', () => {
  for (const s of servers) s.close()
  process.exit(0)
})
process.stdout.write(`${JSON.stringify({ id: 0, ok: true, data: 'ready' })}\n`)

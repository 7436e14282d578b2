import { connect, type Socket } from 'node:net'

/** Where to connect: a unix socket, or plain TCP. */
export type Dial = { path: string } | { host: string; port: number }

/** A whole HTTP/1.1 answer. */
export interface Http1Answer {
  status: number
  /** Header names in lower case. */
  headers: Record<string, string>
  body: Buffer
}

/** A failure on a kept-alive connection before any byte of the answer: the request is sent again on a new one. */
class StaleConnection extends Error {}

/** The answer broke off or is not HTTP/1.1 (the Transport reports it as ERR_BAD_RESPONSE). */
export class BrokenAnswer extends Error {}

const HEAD_END = Buffer.from('\r\n\r\n')

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine = '', ...lines] = head.split('\r\n')
  const m = statusLine.match(/^HTTP\/1\.[01] (\d{3})/u)
  if (!m) throw new BrokenAnswer(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 80))}`)
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(m[1]), headers }
}

/** A chunked body, once it is all there (undefined while more is to come). */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const eol = data.indexOf('\r\n', at)
    if (eol < 0) return undefined
    const size = Number.parseInt(data.subarray(at, eol).toString('latin1').split(';')[0] ?? '', 16)
    if (!Number.isInteger(size) || size < 0) throw new BrokenAnswer('a broken chunk size')
    const start = eol + 2
    if (size === 0)
      return data.indexOf(HEAD_END, eol) >= 0 || data.length >= start + 2 ? Buffer.concat(parts) : undefined
    if (data.length < start + size + 2) return undefined
    parts.push(data.subarray(start, start + size))
    at = start + size + 2
  }
}

/** The body, once complete; `closed`: the server closed the connection (a body without length ends there). */
function bodyOf(
  method: string,
  status: number,
  headers: Record<string, string>,
  rest: Buffer,
  closed: boolean,
): Buffer | undefined {
  if (method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200)) return Buffer.alloc(0)
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) return dechunk(rest)
  const length = headers['content-length']
  if (length !== undefined) {
    const n = Number(length)
    if (!Number.isInteger(n) || n < 0) throw new BrokenAnswer(`content-length ${JSON.stringify(length)}`)
    return rest.length >= n ? rest.subarray(0, n) : undefined
  }
  return closed ? rest : undefined
}

/**
 * A minimal HTTP/1.1 client for whole answers on one daemon (unix socket or plain TCP), with one
 * kept-alive connection reused for the next request. `node:http`'s client (agent, request and
 * response streams, the parser) costs a short-lived command more than everything else it does:
 * a `cnm` command pays for one request, so it gets this (see BENCHMARKS.md). Streams (events) and
 * TLS still go through `node:http`/`node:https`.
 */
export class Http1Client {
  readonly #dial: Dial
  readonly #host: string
  #idle: { s: Socket; drop: () => void }[] = []

  constructor(dial: Dial, hostHeader: string) {
    this.#dial = dial
    this.#host = hostHeader
  }

  /** Sends one request and reads the whole answer. Connection failures reject with the socket's own error. */
  async request(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Http1Answer> {
    const text = this.#render(method, path, headers, body)
    const reused = this.#takeIdle()
    if (reused) {
      try {
        return await this.#exchange(reused, true, method, text)
      } catch (err) {
        if (!(err instanceof StaleConnection)) throw err
      }
    }
    return this.#exchange(await this.#connect(), false, method, text)
  }

  /** A kept connection still open, if any (one the daemon closed meanwhile is dropped). */
  #takeIdle(): Socket | undefined {
    for (let kept = this.#idle.pop(); kept; kept = this.#idle.pop()) {
      const { s, drop } = kept
      s.off('error', drop)
      s.off('close', drop)
      s.off('end', drop)
      if (!s.destroyed && s.writable && s.readable) return s
      s.destroy()
    }
    return undefined
  }

  /** Closes the kept connection (the client can still be used: it connects again). */
  close(): void {
    for (const { s } of this.#idle) s.destroy()
    this.#idle = []
  }

  #render(method: string, path: string, headers: Record<string, string>, body: string | undefined): string {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`
    return `${head}\r\n${body ?? ''}`
  }

  #connect(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect(this.#dial)
      s.once('error', reject)
      s.once('connect', () => {
        s.off('error', reject)
        resolve(s)
      })
    })
  }

  #exchange(s: Socket, reused: boolean, method: string, text: string): Promise<Http1Answer> {
    return new Promise((resolve, reject) => {
      let data: Buffer = Buffer.alloc(0)
      let head: { status: number; headers: Record<string, string>; at: number } | undefined
      let done = false
      const finish = (err: Error | undefined, answer?: Http1Answer, keep = false): void => {
        if (done) return
        done = true
        s.off('data', onData)
        s.off('end', onEnd)
        s.off('error', onError)
        s.off('close', onEnd)
        if (err || !answer) {
          s.destroy()
          reject(err)
          return
        }
        if (keep && !s.destroyed) {
          // Closed by the daemon while idle (its keep-alive timeout): dropped.
          const drop = (): void => {
            s.destroy()
            this.#idle = this.#idle.filter((x) => x.s !== s)
          }
          s.on('error', drop)
          s.on('close', drop)
          s.on('end', drop)
          s.unref() // an idle connection never keeps a process alive
          this.#idle.push({ s, drop })
        } else s.destroy()
        resolve(answer)
      }
      const tryFinish = (closed: boolean): void => {
        if (!head) {
          const end = data.indexOf(HEAD_END)
          if (end < 0) {
            if (closed)
              finish(reused && data.length === 0 ? new StaleConnection() : new BrokenAnswer('the answer broke off'))
            return
          }
          head = { ...parseHead(data.subarray(0, end).toString('latin1')), at: end + 4 }
        }
        const body = bodyOf(method, head.status, head.headers, data.subarray(head.at), closed)
        if (body === undefined) {
          if (closed) finish(new BrokenAnswer('the answer broke off'))
          return
        }
        const keep =
          !closed && head.headers.connection?.toLowerCase() !== 'close' && data.length === head.at + body.length
        finish(undefined, { status: head.status, headers: head.headers, body }, keep)
      }
      const onData = (chunk: Buffer): void => {
        data = data.length === 0 ? chunk : Buffer.concat([data, chunk])
        try {
          tryFinish(false)
        } catch (err) {
          finish(err as Error)
        }
      }
      const onEnd = (): void => {
        try {
          tryFinish(true)
        } catch (err) {
          finish(err as Error)
        }
      }
      const onError = (err: Error): void => finish(reused && data.length === 0 ? new StaleConnection() : err)
      s.on('data', onData)
      s.on('end', onEnd)
      s.on('close', onEnd)
      s.on('error', onError)
      s.ref()
      s.write(text)
    })
  }
}

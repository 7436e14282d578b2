import type { Agent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http'
import { CnmClientError, connectError, ERR_BAD_RESPONSE } from './errors.js'
import { type DaemonAddress, formatHost } from './host.js'
import { BrokenAnswer, Http1Client } from './http1.js'

/** Mutual TLS for a TCP daemon: the CA that signed the daemon's certificate, and the client's own. */
export interface TlsOptions {
  /** PEM: the CA the daemon's certificate must chain to. */
  ca: string | Buffer
  /** PEM: the client's certificate (the daemon requires one). */
  cert: string | Buffer
  /** PEM: the client's private key. */
  key: string | Buffer
  /** The name the daemon's certificate must carry (default: the host of the address). */
  servername?: string
}

/** A whole answer. */
export interface Answer {
  status: number
  contentType: string
  text: string
}

/**
 * HTTP/1.1 to one daemon. Whole answers without TLS go through a minimal client on `node:net`
 * (`http1.ts`: one request costs a short-lived process a fraction of what `node:http`'s client
 * does); streams (events) and TLS through `node:http`/`node:https`, loaded on first use (both
 * measured against undici: see the README). Idle kept-alive connections never keep the process alive.
 */
export class Transport {
  readonly address: DaemonAddress
  readonly #tls: TlsOptions | undefined
  #agent: Agent | undefined
  #http: typeof import('node:http') | undefined
  #https: Promise<typeof import('node:https')> | undefined
  readonly #plain: Http1Client | undefined

  constructor(address: DaemonAddress, tls: TlsOptions | undefined) {
    this.address = address
    this.#tls = tls
    const a = address
    this.#plain = tls
      ? undefined
      : a.kind === 'unix'
        ? new Http1Client({ path: a.path }, 'cnm')
        : new Http1Client({ host: a.host, port: a.port }, `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`)
  }

  /** `node:http` and its keep-alive agent, for streams (loaded on first use). */
  #httpModule(): typeof import('node:http') {
    this.#http ??= process.getBuiltinModule('node:http') // synchronous, and no ESM facade (Node ≥ 20.16)
    return this.#http
  }

  #options(method: string, path: string, headers: Record<string, string>): RequestOptions {
    const a = this.address
    // Over a unix socket the Host header names the daemon; over TCP Node sets it (and TLS checks
    // the daemon's certificate against the address).
    // (An empty servername keeps the agent from checking whether the host is an IP: that compiles
    // node:net's IPv6 pattern, ~10 ms of a command's start-up; plain HTTP has no use for it.)
    const where =
      a.kind === 'unix'
        ? { socketPath: a.path, servername: '', headers: { host: 'cnm', ...headers } }
        : { host: a.host, port: a.port, headers, ...(this.#tls ? {} : { servername: '' }) }
    if (!this.#tls) this.#agent ??= new (this.#httpModule().Agent)({ keepAlive: true, maxSockets: 8 })
    const agent = this.#agent ? { agent: this.#agent } : {}
    return { ...where, method, path, ...agent }
  }

  async #open(method: string, path: string, headers: Record<string, string>): Promise<ClientRequest> {
    const options = this.#options(method, path, headers)
    const tls = this.#tls
    if (!tls) return this.#httpModule().request(options)
    // Loaded only for TLS: a unix-socket client never pays for node:https and node:tls.
    this.#https ??= import('node:https')
    const https = await this.#https
    return https.request({
      ...options,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      ...(tls.servername ? { servername: tls.servername } : {}),
    })
  }

  /** Sends one request; resolves with the response (its body not read yet). */
  async open(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> =
      payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
    const req = await this.#open(method, path, headers)
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        req.destroy()
        reject(signal?.reason ?? new Error('aborted'))
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      req.once('response', (res) => {
        signal?.removeEventListener('abort', onAbort)
        resolve(res)
      })
      req.once('error', (err) => {
        signal?.removeEventListener('abort', onAbort)
        reject(err.name === 'AbortError' ? err : connectError(err, formatHost(this.address)))
      })
      req.end(payload)
    })
  }

  /** Sends one request and reads the whole answer. */
  async send(method: string, path: string, body?: unknown): Promise<Answer> {
    if (this.#plain) return this.#sendPlain(this.#plain, method, path, body)
    const res = await this.open(method, path, body)
    const chunks: Buffer[] = []
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer)
    } catch (err) {
      throw new CnmClientError(ERR_BAD_RESPONSE, 'unavailable', `the answer from the daemon broke off: ${err}`, {
        cause: err,
      })
    }
    return {
      status: res.statusCode ?? 0,
      contentType: String(res.headers['content-type'] ?? ''),
      text: Buffer.concat(chunks).toString('utf8'),
    }
  }

  async #sendPlain(client: Http1Client, method: string, path: string, body?: unknown): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> =
      payload === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
    try {
      const res = await client.request(method, path, headers, payload)
      return { status: res.status, contentType: res.headers['content-type'] ?? '', text: res.body.toString('utf8') }
    } catch (err) {
      if (err instanceof BrokenAnswer) {
        throw new CnmClientError(
          ERR_BAD_RESPONSE,
          'unavailable',
          `the answer from the daemon broke off: ${err.message}`,
          {
            cause: err,
          },
        )
      }
      throw connectError(err as Error, formatHost(this.address))
    }
  }

  /** Closes idle connections (the client can still be used: it connects again). */
  close(): void {
    this.#agent?.destroy()
    this.#plain?.close()
  }
}

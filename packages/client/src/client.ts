import { errorFromBody } from './errors.js'
import { readEvents } from './events.js'
import { type DaemonAddress, DEFAULT_HOST, formatHost, parseHost } from './host.js'
import type {
  Connect,
  Disconnect,
  EndpointCreate,
  NetworkCreate,
  NetworkPrune,
  SandboxCreate,
} from './schema/bodies.js'
import type {
  Endpoint,
  Event,
  Info,
  Network,
  NetworkPruneReport,
  Port,
  ReconcileReport,
  Resolver,
  Sandbox,
  Version,
} from './schema/objects.js'
import { type TlsOptions, Transport } from './transport.js'

/**
 * The daemon's REST API as methods: one per route (the `operationId`s of its OpenAPI document),
 * the same whether a daemon answers them or a process does the work itself (the `cnm` command's
 * in-process mode implements this interface too). References are names, ids or unique id prefixes.
 */
export interface CnmApi {
  version(): Promise<Version>
  info(): Promise<Info>
  listNetworks(): Promise<Network[]>
  createNetwork(body: NetworkCreate): Promise<Network>
  inspectNetwork(network: string): Promise<Network>
  /** Answers the network as it was. */
  removeNetwork(network: string): Promise<Network>
  /** Removes every network without endpoints that matches the filters (Docker's `network prune`). */
  pruneNetworks(filters?: NetworkPrune): Promise<NetworkPruneReport>
  listNetworkEndpoints(network: string): Promise<Endpoint[]>
  createEndpoint(network: string, body: EndpointCreate): Promise<Endpoint>
  inspectEndpoint(network: string, endpoint: string): Promise<Endpoint>
  /** Answers the endpoint as it was. */
  removeEndpoint(network: string, endpoint: string): Promise<Endpoint>
  connect(network: string, body: Connect): Promise<Endpoint>
  /** Answers the endpoints that left the sandbox and were removed. */
  disconnect(network: string, body: Disconnect): Promise<Endpoint[]>
  listEndpoints(): Promise<Endpoint[]>
  listSandboxes(): Promise<Sandbox[]>
  createSandbox(body: SandboxCreate): Promise<Sandbox>
  inspectSandbox(sandbox: string): Promise<Sandbox>
  /** Answers the sandbox with the endpoints removed with it. */
  removeSandbox(sandbox: string): Promise<Sandbox>
  /** Its resolv.conf and hosts (pointing at its network's DNS server when the daemon runs one). */
  sandboxResolver(sandbox: string): Promise<Resolver>
  listPorts(query?: { network?: string }): Promise<Port[]>
  reconcile(): Promise<ReconcileReport>
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** `unix:///run/cnm/cnm.sock` (default), an absolute socket path, or `tcp://HOST:PORT`. */
  host?: string
  /** Mutual TLS, for a TCP daemon that requires it. */
  tls?: TlsOptions
}

/** A client of one daemon. */
export interface CnmClient extends CnmApi {
  /** Where it connects. */
  readonly address: DaemonAddress
  /** `unix:///…` or `tcp://…`. */
  readonly host: string
  /** `OK` when the daemon answers. */
  ping(): Promise<string>
  /** The OpenAPI 3.1 document of the daemon's API. */
  openapi(): Promise<Record<string, unknown>>
  /**
   * Changes as they happen (networks, endpoints, sandboxes created and deleted, connects,
   * disconnects, published ports), until `signal` aborts or the loop stops.
   */
  events(options?: { type?: Event['type']; signal?: AbortSignal }): AsyncGenerator<Event, void, undefined>
  /** Any route: the parsed JSON answer; an error answer throws. */
  request<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T>
  /** Closes idle connections. */
  close(): void
}

const enc = encodeURIComponent

/** A typed client of the cnm daemon's REST API. Nothing is sent until a method is called. */
export function createClient(options: ClientOptions = {}): CnmClient {
  const address = parseHost(options.host ?? DEFAULT_HOST)
  const transport = new Transport(address, options.tls)

  async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const answer = await transport.send(method, path, body)
    if (answer.status >= 400) throw errorFromBody(answer.status, answer.text)
    if (!answer.contentType.startsWith('application/json')) return answer.text as T
    try {
      return JSON.parse(answer.text) as T
    } catch {
      throw errorFromBody(answer.status, answer.text)
    }
  }
  const get = <T>(path: string): Promise<T> => call<T>('GET', path)
  const post = <T>(path: string, body: unknown = {}): Promise<T> => call<T>('POST', path, body)
  const del = <T>(path: string): Promise<T> => call<T>('DELETE', path)

  return {
    address,
    host: formatHost(address),
    request: call,
    close: () => transport.close(),
    ping: () => get('/_ping'),
    version: () => get('/v1/version'),
    info: () => get('/v1/info'),
    openapi: () => get('/v1/openapi.json'),
    async *events(opts = {}) {
      const path = opts.type ? `/v1/events?type=${enc(opts.type)}` : '/v1/events'
      const res = await transport.open('GET', path, undefined, opts.signal)
      if ((res.statusCode ?? 0) >= 400) {
        let text = ''
        for await (const chunk of res) text += chunk
        throw errorFromBody(res.statusCode ?? 0, text)
      }
      const stop = (): void => void res.destroy()
      opts.signal?.addEventListener('abort', stop, { once: true })
      try {
        yield* readEvents(res)
      } catch (err) {
        if (!opts.signal?.aborted) throw err
      } finally {
        opts.signal?.removeEventListener('abort', stop)
      }
    },
    listNetworks: () => get('/v1/networks'),
    createNetwork: (body) => post('/v1/networks', body),
    inspectNetwork: (network) => get(`/v1/networks/${enc(network)}`),
    removeNetwork: (network) => del(`/v1/networks/${enc(network)}`),
    pruneNetworks: (filters = {}) => post('/v1/networks/prune', filters),
    listNetworkEndpoints: (network) => get(`/v1/networks/${enc(network)}/endpoints`),
    createEndpoint: (network, body) => post(`/v1/networks/${enc(network)}/endpoints`, body),
    inspectEndpoint: (network, endpoint) => get(`/v1/networks/${enc(network)}/endpoints/${enc(endpoint)}`),
    removeEndpoint: (network, endpoint) => del(`/v1/networks/${enc(network)}/endpoints/${enc(endpoint)}`),
    connect: (network, body) => post(`/v1/networks/${enc(network)}/connect`, body),
    disconnect: (network, body) => post(`/v1/networks/${enc(network)}/disconnect`, body),
    listEndpoints: () => get('/v1/endpoints'),
    listSandboxes: () => get('/v1/sandboxes'),
    createSandbox: (body) => post('/v1/sandboxes', body),
    inspectSandbox: (sandbox) => get(`/v1/sandboxes/${enc(sandbox)}`),
    removeSandbox: (sandbox) => del(`/v1/sandboxes/${enc(sandbox)}`),
    sandboxResolver: (sandbox) => get(`/v1/sandboxes/${enc(sandbox)}/resolver`),
    listPorts: (query = {}) =>
      get(query.network === undefined ? '/v1/ports' : `/v1/ports?network=${enc(query.network)}`),
    reconcile: () => post('/v1/reconcile'),
  }
}

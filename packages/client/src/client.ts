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
  /** The daemon's version (`GET /v1/version`): the `@cnm/cli` release it runs. */
  version(): Promise<Version>
  /**
   * What `cnm info` prints (`GET /v1/info`): daemon or in-process mode, store, firewall backend,
   * drivers, listeners, and counts of networks, endpoints, sandboxes and published ports.
   */
  info(): Promise<Info>
  /** Every network with its endpoints (`GET /v1/networks`), in creation order. */
  listNetworks(): Promise<Network[]>
  /**
   * Creates a network (`POST /v1/networks`, Docker's `network create`) and answers it.
   *
   * Throws a `CnmClientError`: `ERR_NETWORK_NAME_EXISTS` (kind `conflict`, 409) when the name is
   * taken, `ERR_INVALID_REQUEST` or the driver's `ERR_INVALID_CONFIG` (kind `invalid`, 400) for a
   * bad field, subnet or option, `ERR_UNKNOWN_DRIVER` for a driver that is not registered, and a
   * pool or overlap conflict when the subnet is in use.
   *
   * @example
   * ```ts
   * const net = await client.createNetwork({ name: 'web', subnet: '10.20.0.0/24', labels: { team: 'a' } })
   * ```
   */
  createNetwork(body: NetworkCreate): Promise<Network>
  /**
   * One network by name, id or unique id prefix (`GET /v1/networks/{network}`).
   *
   * Throws `ERR_UNKNOWN_NETWORK` (kind `not-found`, 404) when nothing matches and
   * `ERR_AMBIGUOUS_REFERENCE` (kind `invalid`) when an id prefix matches several networks.
   */
  inspectNetwork(network: string): Promise<Network>
  /**
   * Removes a network (`DELETE /v1/networks/{network}`, Docker's `network rm`) and answers it as it
   * was. Throws `ERR_UNKNOWN_NETWORK` (404) and `ERR_ACTIVE_ENDPOINTS` (409) while it has endpoints.
   */
  removeNetwork(network: string): Promise<Network>
  /** Removes every network without endpoints that matches the filters (Docker's `network prune`). */
  pruneNetworks(filters?: NetworkPrune): Promise<NetworkPruneReport>
  /**
   * The endpoints of one network (`GET /v1/networks/{network}/endpoints`); the network is a name, id
   * or unique id prefix (`ERR_UNKNOWN_NETWORK`, 404, when none matches).
   */
  listNetworkEndpoints(network: string): Promise<Endpoint[]>
  /**
   * Creates an endpoint on a network (`POST /v1/networks/{network}/endpoints`): its address, MAC
   * and published ports. With `body.sandbox` it is created inside that sandbox and joined in the
   * same operation; without it, it waits for a {@link CnmApi.connect}.
   *
   * Throws `ERR_UNKNOWN_NETWORK` / `ERR_UNKNOWN_SANDBOX` (404), `ERR_ENDPOINT_NAME_EXISTS` (409),
   * `ERR_PORT_ALREADY_ALLOCATED` (409) for a host port in use, or an `invalid` error (400) for a
   * bad address or port specification; nothing is left behind on failure.
   */
  createEndpoint(network: string, body: EndpointCreate): Promise<Endpoint>
  /**
   * One endpoint of a network, both by name, id or unique id prefix
   * (`GET /v1/networks/{network}/endpoints/{endpoint}`); `ERR_UNKNOWN_NETWORK` or
   * `ERR_UNKNOWN_ENDPOINT` (404) when either is missing.
   */
  inspectEndpoint(network: string, endpoint: string): Promise<Endpoint>
  /**
   * Removes an endpoint (`DELETE /v1/networks/{network}/endpoints/{endpoint}`), leaving its sandbox
   * first when joined, and answers it as it was (with the ports it had published).
   * `ERR_UNKNOWN_NETWORK` / `ERR_UNKNOWN_ENDPOINT` (404) when either is missing.
   */
  removeEndpoint(network: string, endpoint: string): Promise<Endpoint>
  /**
   * Connects a sandbox to a network (`POST /v1/networks/{network}/connect`, Docker's
   * `network connect`): joins the endpoint named by `body.endpoint` when it exists, else creates one
   * (named after `body.endpoint`, or the container id) inside the sandbox and joins it. Answers the
   * joined endpoint.
   *
   * Throws `ERR_UNKNOWN_NETWORK` / `ERR_UNKNOWN_SANDBOX` (404), `ERR_ALREADY_CONNECTED` (409) when
   * the sandbox is already on the network, and the errors of {@link CnmApi.createEndpoint}. Endpoint
   * options (`publish`, `ip`, `aliases`, …) apply only to an endpoint it creates: with an existing
   * endpoint they are refused (kind `invalid`, 400).
   *
   * @example
   * ```ts
   * await client.createSandbox({ containerID: 'web1' })
   * const ep = await client.connect('web', { sandbox: 'web1', publish: '8080:80/tcp' })
   * ```
   */
  connect(network: string, body: Connect): Promise<Endpoint>
  /**
   * Disconnects a sandbox from a network (`POST /v1/networks/{network}/disconnect`, Docker's
   * `network disconnect`): its endpoints on the network leave it and are removed; answers them as
   * they were. Throws `ERR_NOT_JOINED` (409) when the sandbox is not on the network.
   */
  disconnect(network: string, body: Disconnect): Promise<Endpoint[]>
  /** Every endpoint of every network (`GET /v1/endpoints`). */
  listEndpoints(): Promise<Endpoint[]>
  /** Every sandbox with the endpoints joined to it (`GET /v1/sandboxes`). */
  listSandboxes(): Promise<Sandbox[]>
  /**
   * Creates a sandbox (`POST /v1/sandboxes`): a new network namespace bound under the daemon's
   * sandbox directory, or at the absolute path `body.key`. Throws `ERR_SANDBOX_EXISTS` (409) when the
   * container id or key is taken, and `ERR_INVALID_NAME` (kind `invalid`, 400) for a container id that
   * is not 1-128 letters, digits, `_`, `.` or `-` (starting with a letter or digit).
   */
  createSandbox(body: SandboxCreate): Promise<Sandbox>
  /**
   * One sandbox by id, container id, key (namespace path) or unique id prefix
   * (`GET /v1/sandboxes/{sandbox}`); `ERR_UNKNOWN_SANDBOX` (404) when none matches.
   */
  inspectSandbox(sandbox: string): Promise<Sandbox>
  /** Answers the sandbox with the endpoints removed with it. */
  removeSandbox(sandbox: string): Promise<Sandbox>
  /** Its resolv.conf and hosts (pointing at its network's DNS server when the daemon runs one). */
  sandboxResolver(sandbox: string): Promise<Resolver>
  /**
   * Published ports (`GET /v1/ports`), of every network or only of `query.network` (a name, id or
   * unique id prefix; `ERR_UNKNOWN_NETWORK`, 404, when none matches).
   */
  listPorts(query?: { network?: string }): Promise<Port[]>
  /**
   * Compares the store with the kernel and repairs both ways (`POST /v1/reconcile`, `cnm reconcile`):
   * rebuilds networks whose kernel objects are gone, drops records of endpoints and sandboxes that
   * no longer exist, and removes links, firewall rules and namespaces nothing owns. Failures of single
   * repairs are listed in the report's `errors` rather than thrown.
   */
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

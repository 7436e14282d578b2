import type { NetworkController } from '@cnm/controller'
import { getPortAllocator, type PortAllocator } from '@cnm/portallocator'
import { EventBus } from './api/events.js'

export { createDnsService } from './dns/dns-service.js'
export { checkTcpSecurity } from './tcp-security.js'

import { type ApiServer, type ApiServerOptions, createApiServer } from './api/server.js'
import { DEFAULT_SOCKET_PATH, SOCKET_GROUP } from './defaults.js'
import type { ListenAddress } from './listen-address.js'
import type { DnsSource, ServiceInfo } from './service/context.js'
import { checkTcpSecurity } from './tcp-security.js'
import { prepareSocketPath, removeSocket, secureSocket } from './unix-socket.js'

/** PEM contents for mutual TLS on the TCP listener. */
export interface ServeTls {
  /** The CA a client's certificate must chain to. */
  ca: string | Buffer
  /** The daemon's certificate and key. */
  cert: string | Buffer
  key: string | Buffer
}

/** Options of {@link serveApi}. */
export interface ServeOptions {
  controller: NetworkController
  /** The unix socket (default `/run/cnm/cnm.sock`), mode 0660, owned by root and group `cnm` when it exists. */
  socketPath?: string
  /** The socket's group (default `cnm`, when that group exists; `false`: root's group). */
  socketGroup?: string | false
  /**
   * Also listen on TCP; the port is reserved through the port allocator first. Needs `tls`
   * (mutual TLS: a client must present a certificate signed by `tls.ca`), or `insecureTcp` with a
   * loopback address.
   */
  listen?: ListenAddress
  tls?: ServeTls
  /** Plain HTTP on TCP, loopback only (127.0.0.0/8, ::1); logged as a warning. */
  insecureTcp?: boolean
  /** The allocator that reserves the TCP port (default: the shared `getPortAllocator()`). */
  allocator?: PortAllocator
  /** Fastify's logger (see `createApiServer`); default off. */
  logger?: ApiServerOptions['logger']
  /** What `GET /v1/info` reports (store, sandbox directory, held ports). */
  info?: Partial<ServiceInfo>
  /** The daemon's DNS service, if it runs one. */
  dns?: DnsSource
}

/** A running API server. */
export interface ApiServerHandle {
  readonly socketPath: string
  /** The TCP address, when listening on TCP (with the port really used). */
  readonly tcp: ListenAddress | undefined
  /** Whether the TCP listener uses mutual TLS. */
  readonly tls: boolean
  /** The changes both listeners announce (`GET /v1/events`). */
  readonly events: EventBus
  /** The unix socket's server (its logger is the daemon's). */
  readonly server: ApiServer
  /** `unix:/run/cnm/cnm.sock`, `https://127.0.0.1:2376` … */
  listeners(): string[]
  /** Stops both listeners (ending event streams), releases the TCP port and removes the socket file. */
  close(): Promise<void>
}

async function listenTcp(
  options: ServeOptions,
  events: EventBus,
  allocator: PortAllocator,
  info: Partial<ServiceInfo>,
): Promise<{ app: ApiServer; address: ListenAddress }> {
  const want = options.listen as ListenAddress
  // Reserved before binding, so no published port can be handed this one.
  const port = allocator.requestPort(want.host, 'tcp', want.port === 0 ? undefined : want.port)
  const app = createApiServer({
    controller: options.controller,
    events,
    info,
    ...(options.dns ? { dns: options.dns } : {}),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.tls ? { tls: options.tls } : {}),
  })
  try {
    await app.listen({ host: want.host, port })
  } catch (err) {
    allocator.releasePort(want.host, 'tcp', port)
    await app.close().catch(() => undefined)
    throw err
  }
  return { app, address: { host: want.host, port } }
}

/**
 * Serves the REST API on a unix socket and, optionally, on TCP (mutual TLS, or plain HTTP on
 * loopback when asked). A stale socket file is removed first; the TCP port is reserved through the
 * shared port allocator before binding and released on close, so a published port can never take
 * the API server's port.
 */
export async function serveApi(options: ServeOptions): Promise<ApiServerHandle> {
  checkTcpSecurity(options.listen, options.tls !== undefined, options.insecureTcp === true)
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH
  const allocator = options.allocator ?? getPortAllocator()
  await prepareSocketPath(socketPath)
  const events = new EventBus()
  let tcp: { app: ApiServer; address: ListenAddress } | undefined
  const listeners = (): string[] => {
    const out = [`unix:${socketPath}`]
    if (tcp) {
      const { host, port } = tcp.address
      out.push(`${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`)
    }
    return out
  }
  const info = { ...options.info, listeners }
  const unixApp = createApiServer({
    controller: options.controller,
    events,
    info,
    ...(options.dns ? { dns: options.dns } : {}),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  })
  events.log = unixApp.log
  await unixApp.listen({ path: socketPath })
  try {
    secureSocket(socketPath, options.socketGroup ?? SOCKET_GROUP)
    if (options.listen) tcp = await listenTcp(options, events, allocator, info)
  } catch (err) {
    await unixApp.close()
    removeSocket(socketPath)
    throw err
  }
  if (tcp && !options.tls) {
    unixApp.log.warn(
      `${listeners()[1]}: plain HTTP without TLS (--insecure-tcp): every local user can reach the API there`,
    )
  }
  let closed: Promise<void> | undefined
  return {
    socketPath,
    tcp: tcp?.address,
    tls: tcp !== undefined && options.tls !== undefined,
    events,
    server: unixApp,
    listeners,
    close() {
      closed ??= (async () => {
        events.close()
        if (tcp) {
          await tcp.app.close()
          allocator.releasePort(tcp.address.host, 'tcp', tcp.address.port)
        }
        await unixApp.close()
        removeSocket(socketPath)
      })()
      return closed
    },
  }
}

import type { NetworkController } from '@cnm/controller'
import { getPortAllocator, type PortAllocator } from '@cnm/portallocator'
import type { FastifyInstance } from 'fastify'
import { createApiServer } from './api/server.js'
import { DEFAULT_SOCKET_PATH } from './defaults.js'
import type { ListenAddress } from './listen-address.js'
import { prepareSocketPath, removeSocket, secureSocket } from './unix-socket.js'

/** Options of {@link serveApi}. */
export interface ServeOptions {
  controller: NetworkController
  /** The unix socket (default `/run/cnm/cnm.sock`), mode 0660, root-owned. */
  socketPath?: string
  /** Also listen on TCP; the port is reserved through the port allocator first. */
  listen?: ListenAddress
  /** The allocator that reserves the TCP port (default: the shared `getPortAllocator()`). */
  allocator?: PortAllocator
}

/** A running API server. */
export interface ApiServerHandle {
  readonly socketPath: string
  /** The TCP address, when listening on TCP (with the port really used). */
  readonly tcp: ListenAddress | undefined
  /** Stops both listeners, releases the TCP port and removes the socket file. */
  close(): Promise<void>
}

async function listenTcp(
  controller: NetworkController,
  allocator: PortAllocator,
  want: ListenAddress,
): Promise<{ app: FastifyInstance; address: ListenAddress }> {
  // Reserved before binding, so no published port can be handed this one.
  const port = allocator.requestPort(want.host, 'tcp', want.port === 0 ? undefined : want.port)
  const app = createApiServer({ controller })
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
 * Serves the REST API on a unix socket and, optionally, on TCP. A stale socket file is removed
 * first; the TCP port is reserved through the shared port allocator before binding and released
 * on close, so a published port can never take the API server's port.
 */
export async function serveApi(options: ServeOptions): Promise<ApiServerHandle> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH
  const allocator = options.allocator ?? getPortAllocator()
  await prepareSocketPath(socketPath)
  const unixApp = createApiServer({ controller: options.controller })
  await unixApp.listen({ path: socketPath })
  let tcp: { app: FastifyInstance; address: ListenAddress } | undefined
  try {
    secureSocket(socketPath)
    if (options.listen) tcp = await listenTcp(options.controller, allocator, options.listen)
  } catch (err) {
    await unixApp.close()
    removeSocket(socketPath)
    throw err
  }
  let closed: Promise<void> | undefined
  return {
    socketPath,
    tcp: tcp?.address,
    close() {
      closed ??= (async () => {
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

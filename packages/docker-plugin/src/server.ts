import { chmodSync, mkdirSync, unlinkSync } from 'node:fs'
import { connect } from 'node:net'
import path from 'node:path'
import type { NetworkController } from '@cnm/controller'
import { isSocketPath } from '@cnm/driverapi'
import { type FastifyBaseLogger, type FastifyError, type FastifyInstance, fastify, LogController } from 'fastify'
import { DockerPluginError, ERR_DOCKER_STATE, errorText } from './errors.js'
import type { PluginEventSink } from './events.js'
import { createIpam, type Ipam } from './ipam.js'
import { type LeftEndpoint, type LeftEndpointSweep, sweepLeftEndpoints } from './left-endpoints.js'
import { pluginRoutes } from './routes.js'
import { StateFile } from './state-file.js'

/** Where dockerd looks for a plugin named `cnm`. */
export const DEFAULT_PLUGIN_SOCKET = '/run/docker/plugins/cnm.sock'
/** The media type of the plugin protocol (v1.2), for requests and answers. */
export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json'

/** Options of {@link serveDockerPlugin} (and, without `socketPath`, of {@link createDockerPluginApp}). */
export interface DockerPluginOptions {
  /** The controller the plugin works on (its owner opens and closes it). */
  controller: NetworkController
  /** The unix socket dockerd finds the plugin on (default {@link DEFAULT_PLUGIN_SOCKET}). */
  socketPath?: string
  /** The plugin's own state file (absolute; host-binding defaults and auxiliary addresses). */
  stateFile: string
  /** A pino logger (the daemon's); none by default. */
  logger?: FastifyBaseLogger
  /** Where the networks and endpoints it makes and removes are announced (the daemon's events). */
  emit?: PluginEventSink
  /**
   * How long an endpoint whose container end waits in the daemon's namespace at start must stay so
   * before it is taken for one whose container left while cnm was down (default 90 s).
   */
  leftEndpointGraceMs?: number
}

/**
 * A running Docker network and IPAM plugin: dockerd finds it at `socketPath` (under
 * `/run/docker/plugins/` it needs no registration) and `app` is the Fastify instance answering it.
 */
export interface DockerPluginServer {
  readonly socketPath: string
  readonly app: FastifyInstance
  /** The endpoints removed because their container left while cnm was down (after the grace period). */
  readonly leftEndpoints: Promise<LeftEndpoint[]>
  /** Stops answering and removes the socket; what dockerd made stays (networks, endpoints, ports). */
  close(): Promise<void>
}

const AJV = { customOptions: { removeAdditional: false as const, coerceTypes: false as const, allErrors: false } }

/** Whether something accepts connections on a unix socket. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path: socketPath })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** The socket's directory exists; a stale socket is removed; a live one or another file is refused. */
async function prepare(socketPath: string): Promise<void> {
  if (!path.isAbsolute(socketPath) || socketPath.length > 100) {
    throw new DockerPluginError(
      ERR_DOCKER_STATE,
      `plugin socket ${socketPath} must be an absolute path of at most 100 bytes`,
    )
  }
  mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o755 })
  let isSocket: boolean
  try {
    isSocket = isSocketPath(socketPath)
  } catch {
    return
  }
  if (!isSocket) throw new DockerPluginError(ERR_DOCKER_STATE, `${socketPath} exists and is not a socket`)
  if (await answers(socketPath))
    throw new DockerPluginError(ERR_DOCKER_STATE, `another server listens on ${socketPath}`)
  unlinkSync(socketPath)
}

/** The plugin protocol as a Fastify instance (not listening). */
export function createDockerPluginApp(
  options: Omit<DockerPluginOptions, 'socketPath'>,
  state: StateFile = new StateFile(options.stateFile),
  ipam: Ipam = createIpam(options.controller, state),
  left?: Pick<LeftEndpointSweep, 'evict'>,
): FastifyInstance {
  const app = fastify({
    ...(options.logger ? { loggerInstance: options.logger } : {}),
    ajv: AJV,
    forceCloseConnections: true,
    // Two log lines per request at info cost more than a quick verb itself (a connect is ~6 requests):
    // requests are logged at debug (with their bodies), failures at info/warn.
    logController: new LogController({ disableRequestLogging: true }),
  }) as unknown as FastifyInstance
  // dockerd sends JSON as the plugin media type, sometimes with no body at all (`null` arguments).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body).trim()
    if (text === '') return done(null, undefined)
    try {
      // The reviver (which drops `__proto__` keys) only when the text could hold one: it makes
      // JSON.parse several times slower, on every request.
      done(
        null,
        text.includes('__proto__') ? JSON.parse(text, (k, v) => (k === '__proto__' ? undefined : v)) : JSON.parse(text),
      )
    } catch (err) {
      done(
        new DockerPluginError('ERR_DOCKER_INVALID_REQUEST', `the body is not JSON: ${(err as Error).message}`),
        undefined,
      )
    }
  })
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const message = err.validation ? `${req.url}: the request ${err.message}` : errorText(err)
    req.log.info({ url: req.url }, message)
    void reply.code(400).type(PLUGIN_MEDIA_TYPE).send({ Err: message, Error: message })
  })
  app.setNotFoundHandler((req, reply) => {
    const message = `cnm does not answer ${req.method} ${req.url}: not a request of the network driver or IPAM protocol`
    void reply.code(404).type(PLUGIN_MEDIA_TYPE).send({ Err: message })
  })
  for (const route of pluginRoutes(options.controller, state, options.emit, ipam, left)) {
    app.post(route.path, { schema: { body: route.body } }, async (req, reply) => {
      void reply.type(PLUGIN_MEDIA_TYPE)
      req.log.debug({ url: req.url, body: req.body }, 'docker plugin request') // what dockerd sent (--log-level debug)
      try {
        return await route.handle(req.body as never)
      } catch (err) {
        const message = errorText(err)
        req.log.warn({ url: req.url, code: (err as { code?: unknown }).code }, message)
        return { [route.errorField]: message }
      }
    })
  }
  return app
}

/**
 * Serves Docker's remote network driver and IPAM protocols (plugin name `cnm`) on a unix socket
 * (mode 0660, root's): `docker network create -d cnm --ipam-driver cnm …`.
 */
export async function serveDockerPlugin(options: DockerPluginOptions): Promise<DockerPluginServer> {
  const socketPath = options.socketPath ?? DEFAULT_PLUGIN_SOCKET
  await prepare(socketPath)
  const state = new StateFile(options.stateFile)
  const ipam = createIpam(options.controller, state)
  // Endpoints whose containers left while cnm was down (dockerd forgot them), beside the requests:
  // which ones were parked at the start is read at once (one link dump), as the socket opens.
  const sweep = sweepLeftEndpoints(options.controller, ipam, {
    ...(options.leftEndpointGraceMs !== undefined ? { graceMs: options.leftEndpointGraceMs } : {}),
    ...(options.emit ? { emit: options.emit } : {}),
  })
  let app: FastifyInstance
  try {
    app = createDockerPluginApp(options, state, ipam, sweep)
    await app.listen({ path: socketPath })
  } catch (err) {
    sweep.cancel()
    throw err
  }
  chmodSync(socketPath, 0o660)
  const leftEndpoints = sweep.done.then((left) => {
    for (const l of left) {
      const what = `endpoint ${l.endpoint} of network ${l.network}`
      if (l.error === undefined)
        options.logger?.info(`removed ${what}: its container left while cnm was not running (dockerd forgot it)`)
      else options.logger?.warn(`could not remove ${what || 'left endpoints'}: ${errorText(l.error)}`)
    }
    return left
  })
  return {
    socketPath,
    app,
    leftEndpoints,
    async close() {
      sweep.cancel()
      await leftEndpoints
      await app.close()
      try {
        if (isSocketPath(socketPath)) unlinkSync(socketPath)
      } catch {}
    },
  }
}

import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { parseAddressPoolFlags } from '../address-pools.js'
import { rootNeeded } from '../backend.js'
import { globalOptions } from '../context.js'
import { DEFAULT_SOCKET_PATH } from '../defaults.js'
import { invalidArgument } from '../errors.js'
import { parseListenAddress } from '../listen-address.js'
import type { Output } from '../output.js'
import type { ServeTls } from '../serve.js'
import { checkTcpSecurity } from '../tcp-security.js'
import { prepareSocketPath } from '../unix-socket.js'
import { clusterOptions, joinCluster, type ServeClusterFlags } from './serve-cluster.js'
import { dnsOptions, type ServeDnsFlags, startDns } from './serve-dns.js'
import { startDockerPlugin } from './serve-docker-plugin.js'
import { collect } from './shared.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

interface ServeFlags {
  socket: string
  defaultAddressPool?: string[]
  listen?: string
  insecureTcp?: boolean
  /** `--docker-plugin` (true: the default socket) or `--docker-plugin=<socket>`. */
  dockerPlugin?: string | true
  logLevel: string
}

/** The TLS file options (global: a client's certificates, or with `serve` the daemon's). */
interface TlsFlags {
  tlscacert?: string
  tlscert?: string
  tlskey?: string
}

/** Resolves on the first SIGINT or SIGTERM; SIGHUP is logged (nothing can be reloaded). */
function stopSignal(onHangup: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      process.off('SIGHUP', onHangup)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
    process.on('SIGHUP', onHangup)
  })
}

/** The TLS files, read; all three or none. */
function tlsFiles(flags: TlsFlags): ServeTls | undefined {
  const given = [flags.tlscacert, flags.tlscert, flags.tlskey]
  if (given.every((f) => f === undefined)) return undefined
  if (given.some((f) => f === undefined)) {
    throw invalidArgument('mutual TLS needs all of --tlscacert, --tlscert and --tlskey')
  }
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file)
    } catch (err) {
      throw invalidArgument(`${flag} ${file}: ${(err as Error).message}`)
    }
  }
  return {
    ca: read(flags.tlscacert as string, '--tlscacert'),
    cert: read(flags.tlscert as string, '--tlscert'),
    key: read(flags.tlskey as string, '--tlskey'),
  }
}

/** `cnm serve`: the daemon. */
export function registerServeCommand(program: Command, io: Output): void {
  clusterOptions(dnsOptions(program.command('serve')))
    .description('the cnm daemon: owns the store, holds published ports, serves the REST API until SIGINT or SIGTERM')
    .option(
      '--socket <path>',
      "unix socket to listen on (mode 0660, root's, group cnm when it exists)",
      DEFAULT_SOCKET_PATH,
    )
    .option(
      '--listen <ip:port>',
      "also listen on TCP, with mutual TLS (the global --tlscacert: the CA client certificates must chain to; --tlscert, --tlskey: the daemon's own), or --insecure-tcp on loopback; the port is reserved so no published port can take it (0: any)",
    )
    .option('--insecure-tcp', 'TCP without TLS, loopback addresses only (logged as a warning)')
    .option(
      '--docker-plugin [socket]',
      "also serve Docker's remote network and IPAM plugin protocols (plugin name cnm) on this unix socket (default /run/docker/plugins/cnm.sock)",
    )
    .option('--log-level <level>', `log level: ${LEVELS.join(', ')} (logs go to stderr)`, 'info')
    .option(
      '--default-address-pool <base=CIDR,size=N>',
      "pools for networks created without --subnet, as dockerd's (repeatable)",
      collect,
    )
    .action(async (flags: ServeFlags & ServeDnsFlags & ServeClusterFlags, cmd: Command) => {
      const listen = flags.listen === undefined ? undefined : parseListenAddress(flags.listen)
      if (!LEVELS.includes(flags.logLevel)) {
        throw invalidArgument(`--log-level ${JSON.stringify(flags.logLevel)} must be one of ${LEVELS.join(', ')}`)
      }
      const g = globalOptions(cmd)
      const pools = flags.defaultAddressPool ? parseAddressPoolFlags(flags.defaultAddressPool) : undefined
      const tls = tlsFiles(g)
      checkTcpSecurity(listen, tls !== undefined, flags.insecureTcp === true)
      if (process.geteuid?.() !== 0) throw rootNeeded(`unix://${flags.socket}`)
      await prepareSocketPath(flags.socket) // a socket in use is refused before the store is opened
      const started = performance.now()
      // Fastify and the API load while the store is opened and restored: their files are read, and
      // compiled, while the restore waits for the kernel (nothing there runs at import).
      const serveModule = import('../serve.js')
      serveModule.catch(() => undefined) // awaited below, after the controller
      const [{ createController }, { heldPortCount }] = await Promise.all([
        import('@cnm/controller'),
        import('@cnm/portmapper'),
      ])
      const cluster = await joinCluster(flags)
      // Until the logger exists (the restore runs first): kept, then logged in order.
      const driverNotes: ['warn' | 'info', string][] = []
      let driverWarn = (m: string): void => void driverNotes.push(['warn', m])
      let driverInfo = (m: string): void => void driverNotes.push(['info', m])
      const controller = await createController({
        storePath: g.store,
        sandboxDir: g.sandboxDir,
        ...(cluster ? { cluster } : {}),
        watchKernel: true, // the long-lived owner: rules flushed behind its back are put back (issue 19)
        onDriverError: (err, what) => driverWarn(`${what}: ${err instanceof Error ? err.message : String(err)}`),
        onDriverRepair: (what) => driverInfo(what), // rules someone else took, put back
        lockStore: { socket: flags.socket }, // one writer: other processes go through this daemon
        ...(pools ? { drivers: (await import('../bridge-pools.js')).bridgeWithPools(pools) } : {}),
      }).catch(async (err) => {
        await cluster?.close({ keepLease: true })
        throw err
      })
      const dnsWarnings: string[] = []
      let dnsWarn = (m: string): void => void dnsWarnings.push(m)
      const dns = await startDns(flags, controller, flags.socket, (m) => dnsWarn(m)).catch(async (err) => {
        await controller.close()
        throw err
      })
      try {
        const { serveApi } = await serveModule
        const server = await serveApi({
          ...(dns ? { dns } : {}),
          controller,
          socketPath: flags.socket,
          logger: { level: flags.logLevel, stream: process.stderr },
          info: { mode: 'daemon', store: g.store, sandboxDir: g.sandboxDir, heldPorts: heldPortCount },
          ...(listen ? { listen } : {}),
          ...(tls ? { tls } : {}),
          ...(flags.insecureTcp ? { insecureTcp: true } : {}),
        })
        const log = server.server.log
        dnsWarn = (m) => log.warn(m)
        driverWarn = (m) => log.warn(m)
        driverInfo = (m) => log.info(m)
        for (const [level, m] of driverNotes.splice(0)) log[level](m)
        for (const m of dnsWarnings.splice(0)) dnsWarn(m)
        const docker = await startDockerPlugin(flags.dockerPlugin, controller, g.store, log, (e) =>
          server.events.emit(e),
        ).catch(async (err) => {
          await server.close()
          throw err
        })
        const restored = controller.lastReconcile
        log.info(
          {
            store: g.store,
            networks: controller.networks().length,
            sandboxes: controller.sandboxes().length,
            heldPorts: heldPortCount(),
            reconcile: restored,
            startupMs: Math.round(performance.now() - started),
          },
          'cnm daemon started',
        )
        // What the start could not repair (a published port another program took meanwhile …).
        for (const problem of restored.errors) log.warn(`at start: ${problem}`)
        const stopped = stopSignal(() =>
          log.info('SIGHUP: nothing to reload (settings are read at start: restart the daemon to change them)'),
        )
        for (const where of server.listeners()) io.out(`listening on ${where}\n`)
        // The DNS servers of the restored networks bind while the API already answers.
        if (dns) void dns.settle().then(() => log.info({ servers: dns.servers().length }, 'DNS servers ready'))
        if (docker) io.out(`docker plugin on unix:${docker.socketPath}\n`)
        const signal = await stopped
        log.info(`${signal}: stopping (published ports are released; the kernel keeps their rules; state is kept)`)
        await docker?.close()
        await server.close()
        io.out(`stopped (${signal})\n`)
      } finally {
        await dns?.close()
        await controller.close()
        // The lease is kept: a restart within its TTL finds this host's addresses still claimed.
        await cluster?.close({ keepLease: true })
      }
    })
}

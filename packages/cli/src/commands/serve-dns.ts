import path from 'node:path'
import type { NetworkController } from '@cnm/controller'
import type { Command } from 'commander'
import type { DnsService } from '../dns/dns-service.js'
import { invalidArgument } from '../errors.js'

/**
 * Where the daemon writes each sandbox's resolv.conf and hosts (`<dir>/<sandbox id>/…`) unless
 * `--dns-resolver-dir` says otherwise: `resolv` beside its socket (`/run/cnm/resolv` by default), so
 * two daemons (two stores, two sockets) never share it.
 */
export function defaultResolverDir(socketPath: string): string {
  return path.join(path.dirname(path.resolve(socketPath)), 'resolv')
}

/** The DNS flags of `cnm serve`. */
export interface ServeDnsFlags {
  /** `--no-dns`: false. */
  dns: boolean
  dnsResolverDir?: string
  dnsResolvConf: string
  dnsPort: string
  dnsThreads?: boolean
}

/** Adds the DNS flags to `cnm serve`. */
export function dnsOptions(cmd: Command): Command {
  return cmd
    .option(
      '--no-dns',
      'run no DNS server (by default each bridge network gets one on its gateway addresses: containers resolve each other by name)',
    )
    .option(
      '--dns-resolver-dir <dir>',
      "where each sandbox's resolv.conf and hosts are written, what `cnm exec` mounts (default: resolv beside the socket, /run/cnm/resolv)",
    )
    .option(
      '--dns-resolv-conf <file>',
      "the host's resolv.conf: the upstream servers (followed when it changes) and the options sandboxes inherit",
      '/etc/resolv.conf',
    )
    .option('--dns-port <port>', 'the port of the DNS servers', '53')
    .option(
      '--dns-threads',
      "run each network's DNS server on a worker thread of its own instead of the daemon's event loop (a thread and ~13 MiB per network)",
    )
}

/** Starts the daemon's DNS service (unless `--no-dns`), after the flags are checked. */
export async function startDns(
  flags: ServeDnsFlags,
  controller: NetworkController,
  socketPath: string,
  warn: (message: string) => void,
): Promise<DnsService | undefined> {
  if (!flags.dns) return undefined
  const port = Number(flags.dnsPort)
  if (!/^\d{1,5}$/u.test(flags.dnsPort) || port < 1 || port > 65535) {
    throw invalidArgument(`--dns-port ${JSON.stringify(flags.dnsPort)} must be a port (1-65535)`)
  }
  // Through serve.js: the DNS stack stays out of the thin command's bundle.
  const { createDnsService } = await import('../serve.js')
  return createDnsService({
    controller,
    resolverDir: path.resolve(flags.dnsResolverDir ?? defaultResolverDir(socketPath)),
    hostResolvConf: flags.dnsResolvConf,
    port,
    thread: flags.dnsThreads === true,
    warn,
  })
}

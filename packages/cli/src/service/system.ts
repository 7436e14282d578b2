import type { Info, Port, ReconcileReport, Version } from '@cnm/client'
import type { NetworkController } from '@cnm/controller'
import { findNetwork } from '../refs.js'
import { cliVersion } from '../version.js'
import type { ServiceContext } from './context.js'

export function version(): Version {
  return { version: cliVersion() }
}

let backend: Promise<string> | undefined

/**
 * The firewall backend the bridge driver picks by default here (nftables when `nft` works, else
 * iptables), found once per process.
 */
function firewallBackend(): Promise<string> {
  backend ??= import('@cnm/firewall')
    .then(({ createFirewall }) => createFirewall())
    .then(
      (f) => f.backend,
      () => 'unknown',
    )
  return backend
}

export async function info(ctx: ServiceContext): Promise<Info> {
  const c = ctx.controller
  const networks = c.networks()
  const endpoints = networks.reduce((n, net) => n + net.endpoints().length, 0)
  return {
    mode: ctx.info.mode,
    version: cliVersion(),
    node: process.version,
    pid: process.pid,
    store: ctx.info.store,
    sandboxDir: ctx.info.sandboxDir,
    firewall: await firewallBackend(),
    drivers: c.drivers().map((d) => d.name),
    listeners: ctx.info.listeners(),
    networks: networks.length,
    endpoints,
    sandboxes: c.sandboxes().length,
    ports: c.ports().length,
    heldPorts: ctx.info.heldPorts(),
  }
}

export function listPorts(c: NetworkController, network: string | undefined): Port[] {
  const only = network === undefined ? undefined : findNetwork(c, network).name
  return c.ports().filter((p) => only === undefined || p.network === only)
}

export function reconcile(c: NetworkController): Promise<ReconcileReport> {
  return c.reconcile()
}

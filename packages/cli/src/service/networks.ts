import type { NetworkCreate, Network as NetworkJSON } from '@cnm/client'
import type { NetworkController } from '@cnm/controller'
import { networkSpec } from '../network-options.js'
import { createNetwork } from '../ops/network.js'
import { findNetwork } from '../refs.js'
import type { ServiceContext } from './context.js'

/** A string or strings, as strings. */
export function list(value: string | string[] | undefined): string[] | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value : [value]
}

export function listNetworks(c: NetworkController): NetworkJSON[] {
  return c.networks().map((n) => n.inspect())
}

export async function createNetworkOp(ctx: ServiceContext, body: NetworkCreate): Promise<NetworkJSON> {
  // The edge: the body's subnets parsed once into IPAM data, handed on as values (the controller
  // refuses an overlap, naming the network in the way, for every driver).
  const { options, ipam } = networkSpec({
    subnet: list(body.subnet),
    gateway: list(body.gateway),
    ...(body.ipRange === undefined ? {} : { ipRange: body.ipRange }),
    ...(body.auxAddress === undefined ? {} : { auxAddress: auxAddressFlags(body.auxAddress) }),
    ...(body.ipv6 === undefined ? {} : { ipv6: body.ipv6 }),
    ...(body.internal === undefined ? {} : { internal: body.internal }),
    ...(body.icc === undefined ? {} : { icc: body.icc }),
    ...(body.mtu === undefined ? {} : { mtu: body.mtu }),
    ...(body.options === undefined ? {} : { options: body.options }),
  })
  const net = await createNetwork(ctx.controller, body.name, body.driver ?? 'bridge', options, {
    ipam,
    ...(body.labels === undefined ? {} : { labels: body.labels }),
  })
  const json = net.inspect()
  ctx.emit({ type: 'network', action: 'create', id: json.id, name: json.name })
  return json
}

/** The REST body's `auxAddress` object as the flags' `name=ip` texts (one parser for both). */
function auxAddressFlags(aux: Record<string, string>): string[] {
  return Object.entries(aux).map(([name, ip]) => `${name}=${ip}`)
}

export function inspectNetwork(c: NetworkController, ref: string): NetworkJSON {
  return findNetwork(c, ref).inspect()
}

export async function removeNetworkOp(ctx: ServiceContext, ref: string): Promise<NetworkJSON> {
  const net = findNetwork(ctx.controller, ref)
  const before = net.inspect()
  await net.delete()
  ctx.emit({ type: 'network', action: 'delete', id: before.id, name: before.name })
  return before
}

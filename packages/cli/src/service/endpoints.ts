import type { Connect, Disconnect, EndpointCreate, Endpoint as EndpointJSON } from '@cnm/client'
import type { Endpoint, EndpointSettings, NetworkController } from '@cnm/controller'
import { endpointOptions } from '../endpoint-options.js'
import { connect, disconnect } from '../ops/connect.js'
import { createEndpoint } from '../ops/endpoint.js'
import { allEndpoints, findEndpoint, findNetwork, findSandbox } from '../refs.js'
import type { EventSink, ServiceContext } from './context.js'
import { list } from './networks.js'

type OptionFields = Pick<EndpointCreate, 'publish' | 'portBindings' | 'ip' | 'ip6' | 'macAddress'>

/** The endpoint's settings besides its driver's options (its DNS aliases). */
function settings(body: Pick<EndpointCreate, 'aliases'>): EndpointSettings {
  return body.aliases === undefined ? {} : { aliases: body.aliases }
}

function options(body: OptionFields): Record<string, unknown> {
  return endpointOptions({
    publish: list(body.publish),
    ...(body.portBindings === undefined ? {} : { portBindings: body.portBindings }),
    ...(body.ip === undefined ? {} : { ip: body.ip }),
    ...(body.ip6 === undefined ? {} : { ip6: body.ip6 }),
    ...(body.macAddress === undefined ? {} : { macAddress: body.macAddress }),
  })
}

/** The events of an endpoint that came into being: create, connect (when joined), publish each port. */
export function announceCreated(emit: EventSink, ep: EndpointJSON, sandbox: string | undefined, created = true): void {
  const base = { type: 'endpoint' as const, id: ep.id, name: ep.name, network: ep.network.name }
  if (created) emit({ ...base, action: 'create' })
  if (ep.joined) emit({ ...base, action: 'connect', ...(sandbox === undefined ? {} : { sandbox }) })
  if (created) for (const port of ep.ports) emit({ ...base, action: 'publish', port })
}

/** The events of an endpoint that went: unpublish each port, disconnect (when joined), delete. */
export function announceRemoved(emit: EventSink, ep: EndpointJSON, sandbox: string | undefined): void {
  const base = { type: 'endpoint' as const, id: ep.id, name: ep.name, network: ep.network.name }
  for (const port of ep.ports) emit({ ...base, action: 'unpublish', port })
  if (ep.joined) emit({ ...base, action: 'disconnect', ...(sandbox === undefined ? {} : { sandbox }) })
  emit({ ...base, action: 'delete' })
}

/** The container id of the sandbox an endpoint is joined to (its key if unknown). */
export function sandboxLabel(c: NetworkController, ep: EndpointJSON): string | undefined {
  if (!ep.joined) return undefined
  return c.sandboxByID(ep.joined.sandboxId)?.containerID || ep.joined.key
}

export function listEndpoints(c: NetworkController): EndpointJSON[] {
  return allEndpoints(c).map((e) => e.inspect())
}

export function listNetworkEndpoints(c: NetworkController, network: string): EndpointJSON[] {
  return findNetwork(c, network)
    .endpoints()
    .map((e) => e.inspect())
}

export async function createEndpointOp(
  ctx: ServiceContext,
  network: string,
  body: EndpointCreate,
): Promise<EndpointJSON> {
  const opts = options(body)
  const c = ctx.controller
  const net = findNetwork(c, network)
  const sb = body.sandbox === undefined ? undefined : findSandbox(c, body.sandbox)
  const ep = (await createEndpoint(net, body.name, opts, sb, settings(body))).inspect()
  announceCreated(ctx.emit, ep, sb?.containerID)
  return ep
}

export function inspectEndpoint(c: NetworkController, network: string, endpoint: string): EndpointJSON {
  return findEndpoint(findNetwork(c, network), endpoint).inspect()
}

export async function removeEndpointOp(ctx: ServiceContext, network: string, endpoint: string): Promise<EndpointJSON> {
  const ep = findEndpoint(findNetwork(ctx.controller, network), endpoint)
  const before = ep.inspect()
  const sandbox = sandboxLabel(ctx.controller, before)
  await ep.delete()
  announceRemoved(ctx.emit, before, sandbox)
  return before
}

export async function connectOp(ctx: ServiceContext, network: string, body: Connect): Promise<EndpointJSON> {
  const opts = options(body)
  const c = ctx.controller
  const net = findNetwork(c, network)
  const sb = findSandbox(c, body.sandbox)
  const existed =
    body.endpoint !== undefined && net.endpoints().some((e) => e.name === body.endpoint || e.id === body.endpoint)
  const ep = (await connect(net, sb, body.endpoint, opts, settings(body))).inspect()
  announceCreated(ctx.emit, ep, sb.containerID, !existed)
  return ep
}

export async function disconnectOp(ctx: ServiceContext, network: string, body: Disconnect): Promise<EndpointJSON[]> {
  const c = ctx.controller
  const net = findNetwork(c, network)
  const sb = findSandbox(c, body.sandbox)
  const before = sb
    .endpoints()
    .filter((e: Endpoint) => e.network.id === net.id)
    .map((e) => e.inspect())
  await disconnect(net, sb)
  for (const ep of before) announceRemoved(ctx.emit, ep, sb.containerID)
  return before
}

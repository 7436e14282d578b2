import type { Resolver, SandboxCreate, Sandbox as SandboxJSON } from '@cnm/client'
import type { NetworkController } from '@cnm/controller'
import { removeSandbox } from '../ops/sandbox.js'
import { allEndpoints, findSandbox } from '../refs.js'
import { sandboxJSON } from '../views.js'
import type { ServiceContext } from './context.js'
import { announceRemoved } from './endpoints.js'

export function listSandboxes(c: NetworkController): SandboxJSON[] {
  return c.sandboxes().map(sandboxJSON)
}

export async function createSandboxOp(ctx: ServiceContext, body: SandboxCreate): Promise<SandboxJSON> {
  const sb = await ctx.controller.newSandbox(body.containerID, {
    ...(body.key === undefined ? {} : { key: body.key }),
    ...(body.name === undefined ? {} : { name: body.name }),
  })
  const json = sandboxJSON(sb)
  ctx.emit({ type: 'sandbox', action: 'create', id: json.id, name: json.containerID })
  return json
}

export function inspectSandbox(c: NetworkController, ref: string): SandboxJSON {
  return sandboxJSON(findSandbox(c, ref))
}

/** A sandbox's resolv.conf and hosts: its network's DNS server (the daemon's), else the host's servers. */
export async function sandboxResolver(ctx: ServiceContext, ref: string): Promise<Resolver> {
  const sb = findSandbox(ctx.controller, ref)
  if (ctx.dns) {
    // The servers it names are listening (just after a start they may still be binding).
    await ctx.dns.settle()
    return ctx.dns.resolver(sb)
  }
  // Loaded when asked: @cnm/dns brings dns-packet, which no other in-process command needs.
  const { hostResolver } = await import('./host-resolver.js')
  return hostResolver(sb)
}

/** Removes a sandbox with its endpoints; answers it with the endpoints removed. */
export async function removeSandboxOp(ctx: ServiceContext, ref: string): Promise<SandboxJSON> {
  const sb = findSandbox(ctx.controller, ref)
  const json = sandboxJSON(sb)
  // What removeSandbox will delete: endpoints joined to the sandbox or born inside it.
  const joined = new Set(sb.endpoints().map((e) => e.id))
  const endpoints = allEndpoints(ctx.controller)
    .map((e) => e.inspect())
    .filter((e) => joined.has(e.id) || e.sandboxKey === sb.key)
  const gone = await removeSandbox(ctx.controller, sb)
  const removed = endpoints.filter((e) => gone.some((g) => g.id === e.id))
  for (const ep of removed) announceRemoved(ctx.emit, ep, sb.containerID)
  ctx.emit({ type: 'sandbox', action: 'delete', id: json.id, name: json.containerID })
  return { ...json, endpoints: removed.map((e) => ({ id: e.id, name: e.name, network: e.network.name })) }
}

import type { EndpointInspect, PortInfo } from '@cnm/controller'
import type { PublishedPort } from '@cnm/driverapi'

/** A change the plugin made, in the shape of the daemon's events (`cnm events`). */
export interface PluginEvent {
  type: 'network' | 'endpoint'
  action: 'create' | 'delete' | 'publish' | 'unpublish'
  id: string
  name: string
  /** The network (name) of an endpoint event. */
  network?: string
  port?: PortInfo
}

/** Where the plugin announces its changes (the daemon's event bus). */
export type PluginEventSink = (event: PluginEvent) => void

/** An endpoint that came: create, then publish for each port. */
export function endpointCreated(emit: PluginEventSink, ep: EndpointInspect): void {
  const base = { type: 'endpoint' as const, id: ep.id, name: ep.name, network: ep.network.name }
  emit({ ...base, action: 'create' })
  for (const port of ep.ports) emit({ ...base, action: 'publish', port })
}

/** An endpoint that went: unpublish for each port, then delete. */
export function endpointDeleted(emit: PluginEventSink, ep: EndpointInspect): void {
  const base = { type: 'endpoint' as const, id: ep.id, name: ep.name, network: ep.network.name }
  for (const port of ep.ports) emit({ ...base, action: 'unpublish', port })
  emit({ ...base, action: 'delete' })
}

/** Ports published on (or unpublished from) an existing endpoint: one event each. */
export function endpointPorts(
  emit: PluginEventSink,
  ep: EndpointInspect,
  action: 'publish' | 'unpublish',
  ports: readonly PublishedPort[],
): void {
  const base = { type: 'endpoint' as const, id: ep.id, name: ep.name, network: ep.network.name }
  for (const p of ports) emit({ ...base, action, port: { ...p, network: ep.network.name, endpoint: ep.name } })
}

import type { Event } from '@cnm/client'
import type { NetworkController } from '@cnm/controller'

/** Where a change is announced (the daemon's event bus; nothing in process). */
export type EventSink = (event: Omit<Event, 'time'>) => void

/** What `info` reports besides the controller's counts. */
export interface ServiceInfo {
  mode: 'daemon' | 'in-process'
  store: string
  sandboxDir: string
  /** Where the daemon listens (empty in process). */
  listeners: () => string[]
  /** Host ports this process holds with a bound socket. */
  heldPorts: () => number
}

/** What every operation of the API works on. */
export interface ServiceContext {
  controller: NetworkController
  emit: EventSink
  info: ServiceInfo
}

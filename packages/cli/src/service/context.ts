import type { Event, Resolver } from '@cnm/client'
import type { NetworkController, Sandbox } from '@cnm/controller'

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

/** The daemon's DNS, as the API sees it (absent in process: no DNS server runs). */
export interface DnsSource {
  /** Resolves once every committed change is visible to DNS queries. */
  settle(): Promise<void>
  /** A sandbox's resolver configuration (its files written first). */
  resolver(sandbox: Sandbox): Resolver
  /**
   * Holds the DNS servers' native query loops while a request changes the kernel (`holdUdpLoops`
   * of `@cnm/dns`): under a query flood the change still gets a core. Returns the release.
   */
  hold?(): () => void
}

/** What every operation of the API works on. */
export interface ServiceContext {
  controller: NetworkController
  emit: EventSink
  info: ServiceInfo
  dns?: DnsSource
}

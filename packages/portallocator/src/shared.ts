import { PortAllocator } from './port-allocator.js'

/** Where the shared instance lives: one per process, even with two copies of this package installed. */
const KEY = Symbol.for('@cnm/portallocator/shared')

/**
 * The process-wide allocator (the kernel's ephemeral range, in sync with the OS), created on
 * first use; the same object on every call — also across duplicate installs of this package (it
 * is kept on `globalThis` under a registered symbol). Use it so that an API server and a port
 * mapper in one process never hand out the same port.
 */
export function getPortAllocator(): PortAllocator {
  const g = globalThis as { [KEY]?: PortAllocator }
  g[KEY] ??= new PortAllocator()
  return g[KEY]
}

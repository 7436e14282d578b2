import { PortAllocator } from './port-allocator.js'

let shared: PortAllocator | undefined

/**
 * The process-wide allocator (the kernel's ephemeral range, in sync with the OS), created on
 * first use; the same object on every call. Use it so that an API server and a port mapper in
 * one process never hand out the same port.
 */
export function getPortAllocator(): PortAllocator {
  shared ??= new PortAllocator()
  return shared
}

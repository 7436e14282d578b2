export {
  AllPortsAllocatedError,
  ERR_ALL_PORTS_ALLOCATED,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_PORT,
  ERR_PORT_ALREADY_ALLOCATED,
  ERR_UNKNOWN_PROTOCOL,
  InvalidAddressError,
  InvalidPortError,
  PortAllocatorError,
  type PortAllocatorErrorCode,
  PortAlreadyAllocatedError,
  UnknownProtocolError,
} from './errors.js'
export { PortAllocator, type PortAllocatorOptions, type PortRequestOptions } from './port-allocator.js'
export { DEFAULT_PORT_RANGE_END, DEFAULT_PORT_RANGE_START } from './port-range.js'
export type { Protocol } from './protocol.js'
export { getPortAllocator } from './shared.js'

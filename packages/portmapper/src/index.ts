export {
  ERR_INVALID_PORT_RANGE,
  ERR_INVALID_TRANSPORT_ADDRESS,
  ERR_PORT_MAPPED_FOR_IP,
  ERR_PORT_NOT_MAPPED,
  PortMapperError,
} from './errors.js'
export { heldPortCount, RELAY_LIMIT } from './port-holds.js'
export {
  type HostPort,
  PortMapper,
  type PortMapperOptions,
  type PublishOptions,
  type UnheldPort,
} from './port-mapper.js'
export { type SocketHolder, socketHolders } from './socket-holders.js'
export {
  formatTransportAddress,
  parseTransportAddress,
  type TransportAddress,
  type TransportProtocol,
  type TransportRange,
} from './transport-address.js'

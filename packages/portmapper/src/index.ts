export {
  ERR_INVALID_TRANSPORT_ADDRESS,
  formatTransportAddress,
  PortMapperError,
  parseTransportAddress,
  type TransportAddress,
  type TransportProtocol,
} from './transport-address.js'

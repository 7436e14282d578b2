export { bridgeDriver } from './definition.js'
export { DOCKER_BRIDGE_OPTIONS, fromDockerOptions, isDockerOption } from './docker-options.js'
export {
  type BridgeDriver,
  type BridgeDriverOptions,
  type BridgeNetworkInfo,
  createBridgeDriver,
  ERR_MAC_IN_USE,
} from './driver.js'
export { type AddressPool, type BridgeDriverConfig, DEFAULT_ADDRESS_POOLS } from './driver-config.js'
export { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME } from './driver-name.js'
export type { EndpointConfig } from './endpoint-config.js'
export type { MoreSubnet, NetworkConfig } from './network-config.js'
export type { BridgeEndpointRecord, BridgeNetworkRecord } from './records.js'
export type { EndpointState } from './resources.js'
export { ERR_GATEWAY_IN_USE, GatewayInUseError } from './steps/check-gateway.js'

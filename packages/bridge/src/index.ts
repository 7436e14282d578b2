export {
  type BridgeDriver,
  type BridgeDriverOptions,
  type BridgeNetworkInfo,
  createBridgeDriver,
  NETWORK_STEPS,
} from './driver.js'
export { type AddressPool, type BridgeDriverConfig, DEFAULT_ADDRESS_POOLS, parseDriverConfig } from './driver-config.js'
export { BRIDGE_DRIVER_ALIASES, BRIDGE_DRIVER_NAME, defaultBridgeName, isBridgeDriverName } from './driver-name.js'
export { type EndpointConfig, type PortBinding, parseEndpointConfig } from './endpoint-config.js'
export { hostVethName, macFromIPv4 } from './endpoint-names.js'
export { parseAlias } from './marks.js'
export { type NetworkConfig, parseNetworkConfig } from './network-config.js'
export type { PublishedPort } from './publish.js'
export type { BridgeEndpointRecord, BridgeNetworkRecord } from './records.js'
export type { EndpointState } from './resources.js'
export type { RestoreOutcome } from './restore.js'
export type { KnownObjects, StrayReport } from './strays.js'

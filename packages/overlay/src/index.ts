export type { EndpointRecord } from './cluster-keys.js'
export { overlayDriver } from './definition.js'
export { VXLAN_OVERHEAD_IPV4, VXLAN_OVERHEAD_IPV6 } from './devices.js'
export { createOverlayDriver, type OverlayDriverOptions } from './driver.js'
export { OVERLAY_DRIVER_NAME } from './driver-name.js'
export {
  AddressInUseError,
  ERR_ADDRESS_IN_USE,
  ERR_NO_CLUSTER,
  ERR_NO_UNDERLAY,
  ERR_VNI_UNAVAILABLE,
  NoClusterError,
  NoUnderlayError,
  VniUnavailableError,
} from './errors.js'
export { OVERLAY_LINK_GROUP } from './marks.js'
export { VNI_RANGE } from './network-config.js'
export type { OverlayEndpointRecord, OverlayNetworkRecord } from './records.js'

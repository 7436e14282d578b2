export { loadAddon, type NetnsAddon } from './addon.js'
export type { LinkAddress } from './addresses.js'
export type { ConntrackEntry, ConntrackTuple } from './conntrack-codec.js'
export { type ConntrackMatch, ERR_INVALID_CONNTRACK_MATCH } from './conntrack-match.js'
export type { ConntrackQuery, ConntrackWatch } from './conntrack-watch.js'
export {
  ERR_ADDON_UNAVAILABLE,
  ERR_HANDLE_CLOSED,
  ERR_INVALID_ALIAS,
  ERR_INVALID_INTERFACE_NAME,
  ERR_INVALID_MAC,
  ERR_INVALID_MTU,
  ERR_INVALID_NETNS_PATH,
  ERR_INVALID_SYSCTL,
  ERR_NETLINK,
  ERR_NETLINK_TIMEOUT,
  errnoName,
  kernelError,
  NetlinkError,
} from './errors.js'
export { type Handle, type HandleOptions, openHandle } from './handle.js'
export { isValidInterfaceName, MAX_INTERFACE_NAME_BYTES, validateInterfaceName } from './interface-name.js'
export { bytesToIp, ERR_INVALID_ADDRESS, ipToBytes, type PrefixedAddress, parsePrefixedAddress } from './ip-codec.js'
export {
  createMacvlan,
  createVlan,
  ERR_INVALID_LINK_OPTIONS,
  getLinkDetails,
  type LinkDetails,
  type MacvlanOptions,
  type VlanOptions,
} from './kind-links.js'
export {
  type KindData,
  MACVLAN_MODES,
  type MacvlanMode,
  macvlanLinkInfo,
  parseKindData,
  VLAN_ID_MAX,
  VLAN_ID_MIN,
  vlanLinkInfo,
} from './link-kinds.js'
export type { Link, VethOptions } from './links.js'
export { formatMac, parseMac } from './mac.js'
export {
  CURRENT_NETNS_PATH,
  createNetns,
  deleteNetns,
  isNetnsMounted,
  netnsInode,
  validateNetnsPath,
  withNetnsFdSync,
  withNetnsSync,
} from './namespace.js'
export {
  AF_BRIDGE,
  addFdbEntry,
  addNeighbour,
  deleteFdbEntry,
  deleteNeighbour,
  ERR_INVALID_NEIGHBOUR,
  type FdbEntry,
  type FdbEntrySpec,
  listFdbEntries,
  listNeighbours,
  type NeighbourEntry,
  type NeighbourSpec,
} from './neighbours.js'
export { nftGeneration } from './nft-generation.js'
export { type NftChange, type NftWatch, watchNftables } from './nft-watch.js'
export { type AttrValue, decodeAttrs, encodeAttrs } from './nlattr.js'
export type { Route, RouteSpec } from './routes.js'
export type { BoundPort } from './sock-diag.js'
export { CLONE_NEWNET, MNT_DETACH, MS_BIND, mount, setns, umount2, unshare } from './syscalls.js'
export { sysctlPath } from './sysctl.js'
export { ensureThreadPool } from './thread-pool.js'
export { createVxlan, type VxlanOptions } from './vxlan.js'
export {
  parseVxlanData,
  VXLAN_PORT,
  VXLAN_VNI_MAX,
  VXLAN_VNI_MIN,
  type VxlanDetails,
  type VxlanSpec,
  vxlanLinkInfo,
} from './vxlan-info.js'

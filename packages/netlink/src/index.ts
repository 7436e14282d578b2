export { loadAddon, type NetnsAddon } from './addon.js'
export {
  ERR_ADDON_UNAVAILABLE,
  ERR_INVALID_INTERFACE_NAME,
  ERR_INVALID_NETNS_PATH,
  errnoName,
  kernelError,
  NetlinkError,
} from './errors.js'
export { isValidInterfaceName, MAX_INTERFACE_NAME_BYTES, validateInterfaceName } from './interface-name.js'
export {
  CURRENT_NETNS_PATH,
  createNetns,
  deleteNetns,
  isNetnsMounted,
  netnsInode,
  validateNetnsPath,
  withNetnsSync,
} from './namespace.js'
export { CLONE_NEWNET, MNT_DETACH, MS_BIND, mount, setns, umount2, unshare } from './syscalls.js'
export { ensureThreadPool } from './thread-pool.js'

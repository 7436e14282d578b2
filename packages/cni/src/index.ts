export { type Attachment, attachment, attachmentId, DEFAULT_CNI_DIR, ENDPOINT_PREFIX } from './attachment.js'
export { type CniContext, createCniContext } from './context.js'
export { askDaemon, daemonSocket } from './daemon-client.js'
export { CNI_COMMANDS, type CniCommand, type CniEnv, parseCniEnv } from './env.js'
export {
  CNI_ERROR,
  CniError,
  type CniErrorBody,
  cniErrorBody,
  ERR_CNI_ATTACHMENT_EXISTS,
  ERR_CNI_CHECK,
  ERR_CNI_CONFIG,
  ERR_CNI_DECODE,
  ERR_CNI_ENV,
  ERR_CNI_INSTALL,
  ERR_CNI_NETNS,
  ERR_CNI_UNSAFE_DIR,
  ERR_CNI_VERSION,
} from './errors.js'
export { type CniAnswer, type CniRequest, handleCni, type WithContext } from './handle.js'
export {
  DEFAULT_CNI_BIN_DIR,
  FALLBACK_NAME,
  forwarderPath,
  type InstallReport,
  installCni,
  PLUGIN_NAME,
} from './install.js'
export { inProcess, type LocalPaths, localPaths } from './local.js'
export { runCni } from './main.js'
export {
  type CnmNetConf,
  CURRENT_VERSION,
  decodeNetConf,
  parseNetConf,
  SUPPORTED_VERSIONS,
  type ValidAttachment,
} from './netconf.js'
export type { CniInterface, CniIP, CniResult, CniRoute } from './result.js'
export { type CniService, createCniService } from './service.js'

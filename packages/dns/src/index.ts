export {
  DnsError,
  ERR_DNS_SERVER_CLOSED,
  ERR_INVALID_DNS_CONFIG,
  ERR_INVALID_DNS_NAME,
} from './errors.js'
export type { LocalAnswer, LocalZone } from './local-zone.js'
export { answerLocally } from './local-zone.js'
export { type DnsEntry, type NameAddresses, type NameChange, NameTable } from './name-table.js'
export { normalizeName, tryNormalizeName } from './names.js'
export type { DnsStats } from './query-handler.js'
export {
  type HostsOptions,
  parseResolvConf,
  type ResolvConf,
  renderHosts,
  renderResolvConf,
  type SandboxResolvConfOptions,
  sandboxResolvConf,
} from './resolv-conf.js'
export { addressOfReverseName, reverseName } from './reverse.js'
export { createDnsServer, type DnsServer } from './server.js'
export type { DnsServerOptions } from './server-config.js'
export { HOLD_MAX_MS, holdUdpLoops } from './udp-loop.js'
export { parseUpstream, type Upstream, UpstreamSource } from './upstreams.js'
export type { WorkerStats } from './worker-protocol.js'
export { createDnsServerThread, type DnsServerThread } from './worker-server.js'

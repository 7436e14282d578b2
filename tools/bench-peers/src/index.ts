export { type AptResult, aptInstall, debVersion, POLICY_RC_D } from './apt.js'
export { CNI_PLUGIN_DIRS, CNI_PLUGINS, type CniPeerOptions, createCniPeer, findCniPluginDir } from './cni.js'
export {
  type BusyboxImageOptions,
  busyboxRootfs,
  DOCKER,
  DOCKERD,
  type Dockerd,
  type DockerdOptions,
  startDockerd,
} from './dockerd.js'
export { type EtcdCluster, type EtcdClusterOptions, type EtcdMember, etcdMembers, startEtcdCluster } from './etcd.js'
export {
  type EnsureOptions,
  ensurePeersInstalled,
  type PeerAvailability,
  type PeersAvailable,
} from './install.js'
export { type MeasureOptions, measurePeer, median, type PeerTimes, tenth, timed } from './measure.js'
export { createNetavarkPeer, findNetavark, NETAVARK_PATHS, type NetavarkPeerOptions } from './netavark.js'
export {
  createPeerNamespace,
  createScratchDir,
  PEER_NETNS_DIR,
  type PeerNamespace,
  type ScratchDir,
} from './netns.js'
export type { BenchPeer, Peer, PeerOptions } from './peer.js'
export {
  CHILD_PATH,
  childEnv,
  isExecutable,
  ProcessError,
  type RunOptions,
  type RunResult,
  run,
  spawnIn,
  which,
} from './run.js'

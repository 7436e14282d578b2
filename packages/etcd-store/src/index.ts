export { type Cluster, type ConnectClusterOptions, connectCluster } from './connect-cluster.js'
export { createEtcdKV, type EtcdKV, type EtcdKVOptions } from './etcd-kv.js'
export { checkHostName, parseStoreUrl } from './store-url.js'

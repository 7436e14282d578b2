export {
  type ClusterHost,
  type EtcdTestCluster,
  type EtcdTestClusterOptions,
  startEtcdCluster,
} from './etcd-cluster.js'

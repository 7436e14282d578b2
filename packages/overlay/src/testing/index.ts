export { createMemoryCluster, type MemoryCluster } from './memory-cluster.js'

import type { Cluster } from '@cnm/etcd-store'
import type { Command } from 'commander'
import { invalidArgument } from '../errors.js'

/** The cluster flags of `cnm serve`. */
export interface ServeClusterFlags {
  /** `etcd://h1:2379,h2:2379,h3:2379`. */
  clusterStore?: string
  /** This host's address as the other hosts reach it (the VXLAN underlay). */
  advertise?: string
  /** This host's name in the cluster (default: the advertise address). */
  clusterHost?: string
  /** Seconds a host's lease lives without a keepalive. */
  clusterLeaseTtl: string
}

/** Adds the cluster flags to `cnm serve`. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option(
      '--cluster-store <url>',
      'join a cluster on etcd v3 (etcd://h1:2379,h2:2379,h3:2379): networks of global-scope drivers (overlay), their subnets and addresses are allocated cluster-wide there',
    )
    .option('--advertise <address>', "this host's address as the other hosts reach it (needed with --cluster-store)")
    .option('--cluster-host <name>', "this host's unique name in the cluster (default: the --advertise address)")
    .option(
      '--cluster-lease-ttl <seconds>',
      "how long the cluster keeps this host's addresses after it stops answering",
      '5',
    )
}

/**
 * Parses the cluster flags (refused before anything is opened) and makes the cluster context;
 * undefined without `--cluster-store`. The etcd client is loaded only then: the thin command path
 * never loads it. The connection is lazy: the controller's first global operation opens it.
 */
export async function joinCluster(flags: ServeClusterFlags): Promise<Cluster | undefined> {
  if (flags.clusterStore === undefined) {
    if (flags.advertise !== undefined || flags.clusterHost !== undefined) {
      throw invalidArgument('--advertise and --cluster-host need --cluster-store')
    }
    return undefined
  }
  if (flags.advertise === undefined) throw invalidArgument('--cluster-store needs --advertise ADDRESS')
  const ttl = Number(flags.clusterLeaseTtl)
  if (!/^\d{1,4}$/u.test(flags.clusterLeaseTtl) || ttl < 1 || ttl > 3600) {
    throw invalidArgument(`--cluster-lease-ttl ${JSON.stringify(flags.clusterLeaseTtl)} must be 1-3600 seconds`)
  }
  const { connectCluster } = await import('@cnm/etcd-store')
  try {
    return connectCluster({
      store: flags.clusterStore,
      advertise: flags.advertise,
      leaseTtl: ttl,
      ...(flags.clusterHost === undefined ? {} : { host: flags.clusterHost }),
    })
  } catch (err) {
    throw invalidArgument((err as Error).message)
  }
}

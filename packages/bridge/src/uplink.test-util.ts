import { createNetns, deleteNetns } from '@cnm/netlink'
import { type HostNetns, run } from '@cnm/netlink/testing'

/** "Another machine" for a kernel test: a namespace joined to the test's host by a veth. */
export interface Uplink {
  /** The namespace's path (its side of the veth is `eth0`: 198.51.100.2/24 and `<prefix>::2/64`). */
  readonly inet: string
  /** Deletes the namespace (and with it the veth). */
  remove(): void
}

/**
 * Creates namespace `name` under the test's host namespace and a veth `uplink` to it: the host side
 * holds 198.51.100.1/24 and `<v6Prefix>::1/64`, the other side `eth0` .2 and `::2` (no DAD on
 * either). The namespace has no route back to any container subnet, so only what the host
 * masquerades or DNATs is answered. `v6Prefix` is a /64 without its `::/64` (`2001:db8:62`).
 */
export async function createUplink(host: HostNetns, name: string, uplink: string, v6Prefix: string): Promise<Uplink> {
  const inet = host.netnsPath(name)
  await createNetns(inet)
  try {
    run('ip', ['link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inet])
    run('ip', ['addr', 'add', '198.51.100.1/24', 'dev', uplink])
    run('ip', ['-6', 'addr', 'add', `${v6Prefix}::1/64`, 'dev', uplink, 'nodad'])
    run('ip', ['link', 'set', uplink, 'up'])
    run('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'eth0'], { netns: inet })
    run('ip', ['-6', 'addr', 'add', `${v6Prefix}::2/64`, 'dev', 'eth0', 'nodad'], { netns: inet })
    run('ip', ['link', 'set', 'eth0', 'up'], { netns: inet })
    run('ip', ['link', 'set', 'lo', 'up'], { netns: inet })
  } catch (err) {
    deleteNetns(inet)
    throw err
  }
  return { inet, remove: () => deleteNetns(inet) }
}

import { errorCode, hasErrorCode, InvalidConfigError, NotSupportedError } from '@cnm/driverapi'
import { createVlan, type Link } from '@cnm/netlink'
import { CNM_LINK_GROUP, networkAlias, parseAlias } from './marks.js'
import type { DriverResources, NetworkState } from './state.js'

const UNSUPPORTED = new Set(['ENOTSUP', 'EOPNOTSUPP'])

/** Creates the network's VLAN sub-interface on its master, up and marked as the network's. */
async function createVlanParent(res: DriverResources, net: NetworkState): Promise<void> {
  const { name, vlan } = net.config.parent
  if (!vlan) throw new InvalidConfigError(`parent interface ${name} not found`)
  const master = await res.host.findLink(vlan.master)
  if (!master) {
    throw new InvalidConfigError(`parent ${name}: interface ${vlan.master} (the VLAN's master) not found`)
  }
  try {
    await createVlan(res.host, name, {
      parent: master.index,
      id: vlan.id,
      group: CNM_LINK_GROUP,
      alias: networkAlias(res.owner, net.id),
      up: true,
    })
  } catch (cause) {
    if (UNSUPPORTED.has(errorCode(cause) ?? '')) {
      throw new NotSupportedError(
        `parent ${name}: this kernel cannot create VLAN sub-interfaces (no 802.1Q support, CONFIG_VLAN_8021Q); ` +
          `use an existing interface as the parent`,
        { cause },
      )
    }
    throw cause
  }
  net.createdVlan = true
}

/**
 * The parent of a new network: an existing interface of that name is adopted as it is (never
 * changed, never deleted); a missing `eth1.20` is created as VLAN 20 on `eth1` and goes with the
 * network. A missing plain parent is refused (nothing changed).
 */
export async function setupParent(res: DriverResources, net: NetworkState): Promise<void> {
  const present = await res.host.findLink(net.config.parent.name)
  if (present) return
  await createVlanParent(res, net)
}

/** Whether a link is the VLAN this network created: its alias names the network, or (crash) the group only. */
function isOurs(res: DriverResources, net: NetworkState, link: Link): boolean {
  const mark = parseAlias(link.alias)
  if (mark) return mark.owner === res.owner && mark.network === net.id && mark.endpoint === undefined
  return link.group === CNM_LINK_GROUP
}

/** Removes the VLAN sub-interface the network created (if it is still the one it created). */
export async function teardownParent(res: DriverResources, net: NetworkState): Promise<void> {
  if (!net.createdVlan) return
  const link = await res.host.findLink(net.config.parent.name)
  if (link && isOurs(res, net, link)) {
    try {
      await res.host.deleteLink(link.name)
    } catch (err) {
      if (!hasErrorCode(err, 'ENODEV')) throw err
    }
  }
  net.createdVlan = false
}

/**
 * The parent of a recorded network: taken as it is when present (a VLAN the network created is
 * still its own: `restored`); a missing VLAN sub-interface is created again (`rebuilt`). A missing
 * plain parent cannot be rebuilt: the network is held all the same (`restored`), its endpoints gone.
 */
export async function restoreParent(
  res: DriverResources,
  net: NetworkState,
  createdVlan: boolean,
): Promise<'restored' | 'rebuilt'> {
  const present = await res.host.findLink(net.config.parent.name)
  if (present) {
    net.createdVlan = createdVlan && isOurs(res, net, present)
    if (net.createdVlan && present.alias === undefined) {
      await res.host.setAlias(present.name, networkAlias(res.owner, net.id))
    }
    return 'restored'
  }
  if (!net.config.parent.vlan) return 'restored'
  await createVlanParent(res, net)
  return 'rebuilt'
}

import { openHandle } from '@cnm/netlink'
import type { CniContext } from '../context.js'
import { CNI_ERROR, CniError } from '../errors.js'
import type { CnmNetConf } from '../netconf.js'
import { existingNetwork } from '../network.js'

/**
 * STATUS: whether cnm can take an ADD now: the store answered (the controller is open), and the
 * network either exists with its device in the kernel or can be created by the configuration.
 */
export async function cniStatus(ctx: CniContext, conf: CnmNetConf): Promise<void> {
  const network = await existingNetwork(ctx.controller, conf)
  if (!network) {
    const drivers = ctx.controller.drivers().flatMap((d) => [d.name, ...d.aliases])
    if (!drivers.includes(conf.driver)) {
      throw new CniError(
        'ERR_UNKNOWN_DRIVER',
        'unavailable',
        CNI_ERROR.PLUGIN_NOT_AVAILABLE,
        `network ${conf.network} does not exist and driver ${conf.driver} is not registered`,
      )
    }
    return
  }
  const device = network.inspect().device
  if (!device) return
  const h = await openHandle()
  try {
    if (!(await h.findLink(device))) {
      throw new CniError(
        'ERR_CNI_STATUS',
        'unavailable',
        CNI_ERROR.PLUGIN_NOT_AVAILABLE,
        `network ${conf.network}: its device ${device} is not in the kernel (cnm reconcile rebuilds it)`,
      )
    }
  } finally {
    h.close()
  }
}

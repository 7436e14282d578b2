import type { NetworkPrune, NetworkPruneReport } from '@cnm/client'
import { dockerNetworkIdOf } from '../docker-owned.js'
import { errorCode, errorMessage } from '../errors.js'
import { matchesPrune, parsePruneFilters } from '../prune-filters.js'
import type { ServiceContext } from './context.js'

/**
 * `POST /v1/networks/prune` (and `cnm network prune` in process): removes every network without
 * endpoints that passes the filters (Docker's `until`, `label`, `label!`) — but those dockerd made,
 * which its `docker network prune` removes — each in its own
 * transaction; one that cannot be removed (an endpoint arrived meanwhile) is reported and the rest
 * go on. The filters are checked before anything is removed.
 */
export async function pruneNetworksOp(ctx: ServiceContext, body: NetworkPrune): Promise<NetworkPruneReport> {
  const filters = parsePruneFilters(body)
  const report: NetworkPruneReport = { networksDeleted: [], errors: [] }
  for (const net of ctx.controller.networks()) {
    const info = net.inspect()
    // dockerd's networks are its to prune (`docker network prune` tells it): left alone here.
    if (info.endpoints.length > 0 || dockerNetworkIdOf(info.name) !== undefined || !matchesPrune(info, filters))
      continue
    try {
      await net.delete()
      report.networksDeleted.push(info.name)
      ctx.emit({ type: 'network', action: 'delete', id: info.id, name: info.name })
    } catch (err) {
      report.errors.push(`network ${info.name}: ${errorMessage(err)} (${errorCode(err) ?? 'ERROR'})`)
    }
  }
  return report
}

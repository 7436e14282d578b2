import { runAll } from '@cnm/driverapi'
import { conntrackEmpty } from './conntrack-empty.js'
import { conntrackMatches, conntrackQuery, type PublishedPort } from './publish.js'
import type { DeferredFlush, DriverResources, EndpointState, NetworkState } from './resources.js'

/**
 * Flushes a deleted endpoint's conntrack entries (its host ports' flows, and every flow to or from
 * its addresses) after its delete answered, then releases its addresses (held until then: their
 * next owner must not inherit a flow). It starts once `flushDelayMs` passed (0: at once), or when
 * something needs it done first ({@link DeferredFlush.go}), and joins the driver's flush queue: one
 * dump of the table, read on the thread pool, for every flush asked meanwhile — unless the driver's
 * conntrack watch saw no flow of the endpoint's addresses or ports, when there is nothing to flush. A failure goes to
 * `onFlushError` and the addresses are released anyway. Tracked in `res.deferred` until done.
 */
export function deferFlush(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  ports: readonly PublishedPort[],
  release: readonly (() => void)[],
): void {
  const report = (err: unknown): void => {
    try {
      res.onFlushError(err, ep.id)
    } catch {} // a throwing handler must not stop the release
  }
  let start = (): void => undefined
  const due = new Promise<void>((resolve) => {
    start = resolve
  })
  const timer = setTimeout(() => start(), res.flushDelayMs)
  timer.unref() // a process that is done exits; close() runs what is left
  const entry: DeferredFlush = {
    net,
    addresses: [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined),
    ports: ports.length > 0,
    go: () => {
      clearTimeout(timer)
      start()
    },
    done: due
      .then(async () => {
        if (conntrackEmpty(res.host)) return // nothing tracked: no dump at all
        const addresses = [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined)
        // No flow of its addresses or ports was ever seen: nothing to delete, no dump.
        if (res.conntrack && !(await res.conntrack.mayHold(conntrackQuery(ports, addresses)))) return
        await res.flushes.add(await conntrackMatches(res.host, ports, addresses))
      })
      .catch(report)
      .then(async () => {
        for (const err of await runAll(release)) report(err)
      })
      .finally(() => res.deferred.delete(entry)),
  }
  res.deferred.add(entry)
}

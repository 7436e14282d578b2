import { runAll } from '@cnm/driverapi'
import { flushConntrack, type PublishedPort } from './publish.js'
import type { DeferredTeardown, DriverResources, EndpointState, NetworkState } from './resources.js'

/**
 * The rest of a deleted endpoint's teardown, after its delete answered (`deferTeardown`): its veth
 * goes at once (`removeLink`: the kernel waits inside the delete for the device's last users,
 * ~20 ms here, on the thread pool), then its conntrack entries are flushed (its host ports' flows,
 * and every flow to or from its addresses: once it can send no more), then its addresses are
 * released (held until then: their next owner must inherit neither the link nor a flow).
 *
 * A `parked` endpoint's container end waits in this namespace, not in a container (dockerd moves it
 * back out when the container leaves a network or goes): nothing but the host can send from it, so
 * the flush and the release need not wait for the kernel to finish the veth's deletion, and a
 * `docker network connect` right after a disconnect gets the same address (Docker's IPAM hands out
 * the lowest free one) without waiting for it.
 *
 * The flush starts once `flushDelayMs` passed (0: at once) or something needs it done
 * ({@link DeferredTeardown.go}), and joins the driver's flush queue (one dump of the table for
 * every flush asked meanwhile) — unless the driver's conntrack watch saw no flow of the endpoint's
 * addresses or ports: then there is nothing to flush and no dump. A failure of any step goes to
 * `onTeardownError`, and the steps after it run anyway (a veth left behind is a stray the next
 * reconcile removes). Tracked in `res.deferred` until done.
 */
export function deferTeardown(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  ports: readonly PublishedPort[],
  steps: { removeLink: () => Promise<void>; release: readonly (() => void)[]; parked?: boolean },
): void {
  const report = (err: unknown): void => {
    try {
      res.onTeardownError(err, ep.id)
    } catch {} // a throwing handler must not stop the release
  }
  let start = (): void => undefined
  const due = new Promise<void>((resolve) => {
    start = resolve
  })
  const timer = setTimeout(() => start(), res.flushDelayMs)
  timer.unref() // a process that is done exits; close() runs what is left
  const linkGone = steps.removeLink().catch(report)
  const sendsNoMore = steps.parked ? Promise.resolve() : linkGone
  const released = Promise.all([sendsNoMore, due])
    .then(() => flushConntrack(res.host, ports, [ep.ipv4, ep.ipv6], res.conntrack, (m) => res.flushes.add(m)))
    .catch(report)
    .then(async () => {
      for (const err of await runAll(steps.release)) report(err)
    })
  const entry: DeferredTeardown = {
    net,
    endpointId: ep.id,
    addresses: [ep.ipv4, ep.ipv6].filter((a): a is string => a !== undefined),
    ports: ports.length > 0,
    go: () => {
      clearTimeout(timer)
      start()
    },
    released,
    done: Promise.all([linkGone, released])
      .then(() => undefined)
      .finally(() => {
        clearTimeout(timer)
        res.deferred.delete(entry)
      }),
  }
  res.deferred.add(entry)
}

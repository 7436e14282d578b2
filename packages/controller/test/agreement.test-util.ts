import type { BridgeEndpointRecord } from '@cnm/bridge'
import { sandboxExists } from '@cnm/sandbox'
import type { Store } from '../src/store.js'

/**
 * Differences between the store and what the kernel holds, as read by the caller's tools (the
 * crash and property tests pass what `ip` and the firewall inventory show). Empty when they agree.
 */
export function storeKernelDifferences(
  store: Store,
  kernel: { bridges: string[]; veths: string[]; publishedPorts: string[] },
): string[] {
  const snap = store.snapshot()
  const problems: string[] = []
  const bridges = snap.networks.map((n) => (n.record as { bridgeName: string }).bridgeName).sort()
  const veths = snap.endpoints.map((e) => (e.record as BridgeEndpointRecord).hostVeth).sort()
  const ports = snap.endpoints
    .flatMap((e) => (e.record as BridgeEndpointRecord).ports.map((p) => `${p.proto}/${p.hostPort}`))
    .sort()
  const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify([...b].sort())
  if (!same(bridges, kernel.bridges)) problems.push(`bridges: store ${bridges} kernel ${kernel.bridges}`)
  if (!same(veths, kernel.veths)) problems.push(`veths: store ${veths} kernel ${kernel.veths}`)
  if (!same(ports, kernel.publishedPorts)) problems.push(`ports: store ${ports} kernel ${kernel.publishedPorts}`)
  for (const sb of snap.sandboxes) if (!sandboxExists(sb.key)) problems.push(`sandbox ${sb.key} has no namespace`)
  const { ips, ports: held } = store.allocations()
  const dupIps = ips.map((a) => `${a.pool}/${a.ip}`).filter((k, i, all) => all.indexOf(k) !== i)
  const dupPorts = held.map((p) => `${p.proto}/${p.port}`).filter((k, i, all) => all.indexOf(k) !== i)
  if (dupIps.length > 0) problems.push(`addresses held twice: ${dupIps}`)
  if (dupPorts.length > 0) problems.push(`ports held twice: ${dupPorts}`)
  return problems
}

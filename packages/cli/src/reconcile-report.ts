import type { ReconcileReport } from '@cnm/client'

const LABELS: Record<keyof ReconcileReport, string> = {
  rebuiltNetworks: 'rebuilt networks',
  droppedEndpoints: 'dropped endpoints (veth gone)',
  droppedSandboxes: 'dropped sandboxes (namespace gone)',
  removedLinks: 'removed stray links',
  removedFirewallNetworks: 'removed stray firewall networks',
  removedFirewallPorts: 'removed stray published ports',
  removedNamespaces: 'removed stray namespaces',
  errors: 'errors',
}

/**
 * Two reports as one (what opening the controller found, then what the explicit pass found): what
 * both found, each once (a problem the opening saw and the pass saw again is listed once; one only
 * the opening can see, a driver's at the store's adoption, is kept).
 */
export function mergeReports(a: ReconcileReport, b: ReconcileReport): ReconcileReport {
  const out = { ...a }
  for (const key of Object.keys(LABELS) as (keyof ReconcileReport)[]) out[key] = [...new Set([...a[key], ...b[key]])]
  return out
}

/** A report as text lines; "nothing to repair" when empty. */
export function formatReport(report: ReconcileReport): string {
  const lines = (Object.keys(LABELS) as (keyof ReconcileReport)[])
    .filter((k) => report[k].length > 0)
    .map((k) => `${LABELS[k]}: ${report[k].join(', ')}\n`)
  return lines.length > 0 ? lines.join('') : 'nothing to repair: the store and the kernel agree\n'
}

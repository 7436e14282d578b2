import type { ReconcileReport } from '@cnm/client'
import { describe, expect, it } from 'vitest'
import { formatReport, mergeReports } from './reconcile-report.js'

const report = (over: Partial<ReconcileReport>): ReconcileReport => ({
  rebuiltNetworks: [],
  droppedEndpoints: [],
  droppedSandboxes: [],
  removedLinks: [],
  removedFirewallNetworks: [],
  removedFirewallPorts: [],
  removedNamespaces: [],
  errors: [],
  ...over,
})

describe('mergeReports', () => {
  it('keeps what both passes found, each once (a problem seen twice is listed once)', () => {
    const opened = report({ rebuiltNetworks: ['n1'], removedLinks: ['veth1'], errors: ['port taken', 'at adoption'] })
    const again = report({ rebuiltNetworks: ['n1', 'n2'], errors: ['port taken'] })
    expect(mergeReports(opened, again)).toEqual(
      report({ rebuiltNetworks: ['n1', 'n2'], removedLinks: ['veth1'], errors: ['port taken', 'at adoption'] }),
    )
    expect(formatReport(mergeReports(opened, again))).toBe(
      'rebuilt networks: n1, n2\nremoved stray links: veth1\nerrors: port taken, at adoption\n',
    )
  })
})

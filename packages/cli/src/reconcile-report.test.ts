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
  it("keeps both passes' repairs once each, and the problems the second pass still found", () => {
    const opened = report({ rebuiltNetworks: ['n1'], removedLinks: ['veth1'], errors: ['port taken', 'gone since'] })
    const again = report({ rebuiltNetworks: ['n1', 'n2'], errors: ['port taken'] })
    expect(mergeReports(opened, again)).toEqual(
      report({ rebuiltNetworks: ['n1', 'n2'], removedLinks: ['veth1'], errors: ['port taken'] }),
    )
    expect(formatReport(mergeReports(opened, again))).toBe(
      'rebuilt networks: n1, n2\nremoved stray links: veth1\nerrors: port taken\n',
    )
  })
})

import { existsSync, readdirSync, rmdirSync } from 'node:fs'
import {
  boundNetnsPaths,
  diffSnapshots,
  kernelTestsUnavailable,
  type NetnsSnapshot,
  snapshotNetns,
  TEST_NETNS_ROOT,
} from '@cnm/netlink/testing'

interface Before {
  netns: NetnsSnapshot
  mounts: string[]
  named: string[]
}

function namedNetns(): string[] {
  try {
    return readdirSync('/run/netns').sort()
  } catch {
    return []
  }
}

function testRootEntries(): string[] {
  try {
    return readdirSync(TEST_NETNS_ROOT)
  } catch {
    return []
  }
}

/**
 * Guards the namespace the test command started in: `start()` snapshots it (links, addresses,
 * routes, nftables, iptables, sysctls, bound and named namespaces); the check it returns lists
 * every difference after the suite, and any test namespace still bound. Without root (no kernel
 * tests) there is nothing to guard and the check finds nothing.
 */
export function startOriginGuard(): () => string[] {
  if (kernelTestsUnavailable() !== undefined) return () => []
  const before: Before = { netns: snapshotNetns(), mounts: boundNetnsPaths(), named: namedNetns() }
  const rootExisted = existsSync(TEST_NETNS_ROOT)
  // Another run's directories (a killed run, a run still going) are not this run's to report.
  const entriesBefore = new Set(testRootEntries())
  return () => {
    const problems = diffSnapshots(before.netns, snapshotNetns())
    const newMounts = boundNetnsPaths().filter((m) => !before.mounts.includes(m))
    if (newMounts.length > 0) problems.push(`namespaces still bound: ${newMounts.join(', ')}`)
    const named = namedNetns().filter((n) => !before.named.includes(n))
    if (named.length > 0) problems.push(`named namespaces left in /run/netns: ${named.join(', ')}`)
    const dirs = testRootEntries().filter((d) => !entriesBefore.has(d))
    if (dirs.length > 0) problems.push(`test directories left in ${TEST_NETNS_ROOT}: ${dirs.join(', ')}`)
    // The root the harness made for this run goes too, once empty: the machine is left as it was.
    else if (!rootExisted && testRootEntries().length === 0) {
      try {
        rmdirSync(TEST_NETNS_ROOT)
      } catch {
        // Already gone, or another run is using it.
      }
    }
    return problems
  }
}

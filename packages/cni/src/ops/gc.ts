import { readdirSync } from 'node:fs'
import path from 'node:path'
import { attachmentId, idOfEndpoint } from '../attachment.js'
import { unbindNetns } from '../bind.js'
import type { CniContext } from '../context.js'
import { CNI_ERROR, CniError, ERR_CNI_CONFIG } from '../errors.js'
import type { CnmNetConf } from '../netconf.js'
import { existingNetwork } from '../network.js'
import { removeAttachment } from './del.js'

/** What a GC removed, and what it could not (each attempted). */
export interface GcReport {
  removed: string[]
  errors: string[]
}

/**
 * GC: every CNI attachment of the configuration's network that `cni.dev/valid-attachments` does not
 * list is removed (its interface, addresses, rules, published ports and records), then the binds in
 * cnm's directory that no attachment of any network names, and the records of namespaces that are gone.
 */
export async function cniGc(ctx: CniContext, conf: CnmNetConf): Promise<GcReport> {
  if (!conf.validAttachments) {
    throw new CniError(
      ERR_CNI_CONFIG,
      'invalid',
      CNI_ERROR.INVALID_NETWORK_CONFIG,
      'GC needs cni.dev/valid-attachments',
    )
  }
  const keep = new Set(conf.validAttachments.map((a) => attachmentId(a.containerId, a.ifname)))
  const report: GcReport = { removed: [], errors: [] }
  const network = await existingNetwork(ctx.controller, conf)
  for (const ep of network?.endpoints() ?? []) {
    const id = idOfEndpoint(ep.name)
    if (!id || keep.has(id) || !network) continue
    const seen = ep.inspect()
    try {
      await removeAttachment(ctx, ep.name, seen.joined?.key ?? seen.sandboxKey, network.name)
      report.removed.push(ep.name)
    } catch (err) {
      report.errors.push(`${ep.name}: ${(err as Error).message}`)
    }
  }
  // Binds no attachment of any network uses (an ADD cut short, a record removed elsewhere).
  const live = new Set(
    [
      ...ctx.controller.sandboxes().map((sb) => sb.key),
      ...ctx.controller.networks().flatMap((n) => n.endpoints().map((e) => e.inspect().sandboxKey)),
    ]
      .filter((k) => path.dirname(k) === ctx.cniDir)
      .map((k) => path.basename(k)),
  )
  let files: string[] = []
  try {
    files = readdirSync(ctx.cniDir)
  } catch {}
  for (const f of files) {
    if (!/^[0-9a-f]{24}$/u.test(f) || live.has(f)) continue
    try {
      unbindNetns(path.join(ctx.cniDir, f))
      report.removed.push(`bind ${f}`)
    } catch (err) {
      report.errors.push(`bind ${f}: ${(err as Error).message}`)
    }
  }
  // The controller drops the records of sandboxes whose namespace is gone.
  const rec = await ctx.controller.reconcile()
  report.errors.push(...rec.errors)
  if (report.errors.length > 0) {
    throw new CniError(
      'ERR_CNI_GC',
      'kernel',
      CNI_ERROR.KERNEL,
      `GC removed ${report.removed.length} object(s) but failed: ${report.errors.join('; ')}`,
    )
  }
  return report
}

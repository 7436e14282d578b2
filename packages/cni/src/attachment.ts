import { createHash } from 'node:crypto'
import path from 'node:path'

/** Where cnm binds the namespaces of CNI attachments (a directory cnm owns). */
export const DEFAULT_CNI_DIR = '/run/cnm/cni'

/** The endpoint names of CNI attachments start with this. */
export const ENDPOINT_PREFIX = 'cni-'

/** One CNI attachment (SPEC.md: container id + interface name), as cnm names its objects. */
export interface Attachment {
  containerId: string
  ifname: string
  /** 24 hex digits of SHA-256(containerId NUL ifname). */
  id: string
  /** The cnm endpoint's name: `cni-<id>`. */
  endpointName: string
  /** Where cnm binds the runtime's namespace for this attachment: `<cniDir>/<id>`. */
  key: string
}

export function attachmentId(containerId: string, ifname: string): string {
  return createHash('sha256').update(`${containerId}\0${ifname}`).digest('hex').slice(0, 24)
}

/** The names of an attachment's objects. */
export function attachment(containerId: string, ifname: string, cniDir: string): Attachment {
  const id = attachmentId(containerId, ifname)
  return { containerId, ifname, id, endpointName: `${ENDPOINT_PREFIX}${id}`, key: path.join(cniDir, id) }
}

/** The attachment id in an endpoint name (`cni-<id>`), or undefined for an endpoint that is not a CNI attachment. */
export function idOfEndpoint(name: string): string | undefined {
  const m = name.match(/^cni-([0-9a-f]{24})$/u)
  return m?.[1]
}

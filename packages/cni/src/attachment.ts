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
  /**
   * Where cnm binds the runtime's namespace: `<cniDir>/<24 hex digits of SHA-256(containerId)>`, one
   * bind (and one sandbox record) per container, shared by its attachments (eth0, net1, …).
   */
  key: string
}

/**
 * The id of one CNI attachment (a container's interface `ifname` on a network): the first 24 hex
 * digits of the SHA-256 of `containerId` and `ifname`, stable across calls, so ADD, CHECK and DEL
 * of the same attachment find the same endpoint (named `cni-<id>`).
 */
export function attachmentId(containerId: string, ifname: string): string {
  return createHash('sha256').update(`${containerId}\0${ifname}`).digest('hex').slice(0, 24)
}

/** The name of a container's bind in cnm's directory. */
export function containerKeyId(containerId: string): string {
  return createHash('sha256').update(containerId).digest('hex').slice(0, 24)
}

/** The names of an attachment's objects. */
export function attachment(containerId: string, ifname: string, cniDir: string): Attachment {
  const id = attachmentId(containerId, ifname)
  const key = path.join(cniDir, containerKeyId(containerId))
  return { containerId, ifname, id, endpointName: `${ENDPOINT_PREFIX}${id}`, key }
}

/** The attachment id in an endpoint name (`cni-<id>`), or undefined for an endpoint that is not a CNI attachment. */
export function idOfEndpoint(name: string): string | undefined {
  const m = name.match(/^cni-([0-9a-f]{24})$/u)
  return m?.[1]
}

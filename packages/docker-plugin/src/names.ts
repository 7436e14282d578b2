import { invalidRequest } from './errors.js'

const DOCKER_ID = /^[0-9a-f]{64}$/u

/** Whether `id` is a Docker object id (64 lowercase hex characters). */
export function isDockerId(id: unknown): id is string {
  return typeof id === 'string' && DOCKER_ID.test(id)
}

/** Throws unless `id` is a Docker object id (64 lowercase hex characters). */
export function checkDockerId(what: string, id: unknown): string {
  if (!isDockerId(id)) {
    throw invalidRequest(`${what} ${JSON.stringify(id)} is not a Docker id (64 hexadecimal characters)`)
  }
  return id
}

/** The cnm network that stands for a Docker network: `docker-<its id>`. */
export function networkName(nid: string): string {
  return `docker-${nid}`
}

/** The cnm endpoint that stands for a Docker endpoint: `docker-<its id>`. */
export function endpointName(eid: string): string {
  return `docker-${eid}`
}

/** The Docker network id a cnm network name stands for, or undefined for a network Docker did not make. */
export function dockerNetworkId(name: string): string | undefined {
  const id = name.startsWith('docker-') ? name.slice('docker-'.length) : ''
  return DOCKER_ID.test(id) ? id : undefined
}

/** The bridge Docker would name for a network (`br-` + the id's first 12 characters). */
export function defaultBridgeName(nid: string): string {
  return `br-${nid.slice(0, 12)}`
}

/**
 * Whether `v` can prefix a container's interface names (`com.docker.network.container_iface_prefix`):
 * a letter, then letters, digits, `_`, `.` or `-`, at most 12 characters (the kernel's 15 leave
 * three for the index dockerd appends).
 */
export function isIfacePrefix(v: unknown): v is string {
  return typeof v === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,11}$/u.test(v)
}

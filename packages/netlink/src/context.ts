import type { RtnlSocket } from './rtnl-socket.js'

/** What every operation needs: the handle's socket and its namespace (an open fd on it). */
export interface HandleContext {
  sock: RtnlSocket
  /** An fd on the handle's namespace (`/proc/thread-self/ns/net` or a bound file), kept open. */
  nsFd: number
  /** The path the handle was opened on, for messages; undefined for the caller's own namespace. */
  netns: string | undefined
}

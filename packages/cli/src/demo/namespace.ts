import { closeSync, constants, openSync } from 'node:fs'
import { CLONE_NEWNET, CURRENT_NETNS_PATH, ensureThreadPool, openHandle, setns, unshare } from '@cnm/netlink'

/**
 * Moves the main thread into a brand-new network namespace that plays the host, with `lo` up.
 * Everything the demo does afterwards (netlink sockets, sysctls, the programs it spawns) happens
 * there. Returns the way back; the namespace vanishes once nothing uses it.
 */
export async function enterThrowawayNamespace(): Promise<() => void> {
  await ensureThreadPool() // libuv's threads must be born in the real namespace, before the switch
  const home = openSync(CURRENT_NETNS_PATH, constants.O_RDONLY)
  const back = (): void => {
    setns(home, CLONE_NEWNET)
    closeSync(home)
  }
  try {
    unshare(CLONE_NEWNET)
  } catch (err) {
    closeSync(home)
    throw err
  }
  try {
    const handle = await openHandle()
    try {
      await handle.setLinkUp('lo')
    } finally {
      handle.close()
    }
  } catch (err) {
    back()
    throw err
  }
  return back
}

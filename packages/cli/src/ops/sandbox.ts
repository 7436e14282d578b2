import type { Endpoint, NetworkController, Sandbox } from '@cnm/controller'
import { allEndpoints } from '../refs.js'

/**
 * Removes a sandbox as `docker rm` removes a container's networking: the endpoints joined to it, or
 * born inside it, are deleted (their interfaces would die with the namespace), then the namespace.
 * Returns the endpoints it deleted.
 */
export async function removeSandbox(controller: NetworkController, sandbox: Sandbox): Promise<Endpoint[]> {
  const joined = sandbox.endpoints()
  const born = allEndpoints(controller).filter(
    (e) => e.inspect().sandboxKey === sandbox.key && !joined.some((j) => j.id === e.id),
  )
  const gone = [...joined, ...born]
  for (const e of gone) await e.delete()
  await sandbox.destroy()
  return gone
}

import { StoreUnavailableError } from '@cnm/driverapi'

/** Wraps whatever the etcd client threw as `ERR_STORE_UNAVAILABLE`, naming the operation. */
export function unavailable(what: string, err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err
  const reason = err instanceof Error ? err.message : String(err)
  return new StoreUnavailableError(`cluster store unavailable: ${what}: ${reason}`, { cause: err })
}

/**
 * Runs `work` with a deadline: a store that does not answer within `ms` fails the operation with
 * `ERR_STORE_UNAVAILABLE` (the client's own retries run inside it).
 */
export async function withDeadline<T>(what: string, ms: number, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new StoreUnavailableError(`cluster store unavailable: ${what}: no answer in ${ms} ms`)),
      ms,
    )
  })
  try {
    return await Promise.race([work(), deadline])
  } catch (err) {
    throw unavailable(what, err)
  } finally {
    clearTimeout(timer)
  }
}

import { validateNetnsPath } from '@cnm/netlink'
import { ERR_INVALID_SANDBOX_KEY, SandboxError } from './errors.js'

/** Where sandboxes are bound when the caller gives only an id. */
export const DEFAULT_SANDBOX_DIR = '/run/cnm/netns'

/**
 * Throws `ERR_INVALID_SANDBOX_KEY` unless `key` is an absolute, normalised path where a network
 * namespace can be bound.
 */
export function validateSandboxKey(key: unknown): asserts key is string {
  try {
    validateNetnsPath(key)
  } catch (cause) {
    throw new SandboxError(
      ERR_INVALID_SANDBOX_KEY,
      `invalid sandbox key ${JSON.stringify(key)}: must be an absolute path`,
      {
        cause,
      },
    )
  }
}

/** The default key for a sandbox id: `/run/cnm/netns/<id>`. The id must be a plain file name. */
export function sandboxKeyFor(id: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u.test(id)) {
    throw new SandboxError(ERR_INVALID_SANDBOX_KEY, `invalid sandbox id ${JSON.stringify(id)}`)
  }
  return `${DEFAULT_SANDBOX_DIR}/${id}`
}

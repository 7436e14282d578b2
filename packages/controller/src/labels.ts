import { ControllerError, ERR_INVALID_LABEL } from './errors.js'

/** At most this many labels per network. */
export const MAX_LABELS = 256

/** At most this many characters in a label's key, and in its value. */
const MAX_KEY = 256
const MAX_VALUE = 4096

function invalid(message: string): ControllerError {
  return new ControllerError(ERR_INVALID_LABEL, message, { kind: 'invalid' })
}

/**
 * A network's labels (Docker's `--label KEY=VALUE`), checked before anything changes: an object of
 * strings, keys non-empty and without control characters or `=`, values without control
 * characters. `ERR_INVALID_LABEL` names the bad one.
 */
export function parseLabels(labels: unknown): Record<string, string> {
  if (labels === undefined) return {}
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw invalid(`labels must be an object of key: value strings, not ${JSON.stringify(labels)}`)
  }
  const entries = Object.entries(labels)
  if (entries.length > MAX_LABELS) throw invalid(`${entries.length} labels: at most ${MAX_LABELS}`)
  const out: Record<string, string> = {}
  for (const [key, value] of entries) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (key === '' || key.length > MAX_KEY || key.includes('=') || /[\u0000-\u001f\u007f]/u.test(key)) {
      throw invalid(`invalid label key ${JSON.stringify(key)}: 1–${MAX_KEY} characters, no "=" or control characters`)
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (typeof value !== 'string' || value.length > MAX_VALUE || /[\u0000-\u001f\u007f]/u.test(value)) {
      throw invalid(
        `invalid value of label ${key}: ${JSON.stringify(value)} (a string of at most ${MAX_VALUE} characters, no control characters)`,
      )
    }
    out[key] = value
  }
  return out
}

/** `{ labels }` when there are any, else nothing (rows without labels stay as they were). */
export function labelsOrNone(labels: Record<string, string>): { labels?: Record<string, string> } {
  return Object.keys(labels).length > 0 ? { labels } : {}
}

import { CliError } from '../errors.js'
import {
  ERR_BODY_TOO_LARGE,
  ERR_INVALID_REQUEST,
  ERR_METHOD_NOT_ALLOWED,
  ERR_UNSUPPORTED_MEDIA_TYPE,
} from '../service/codes.js'

/** One schema violation as Ajv reports it (through Fastify). */
interface Violation {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

/** An error whose HTTP status is fixed by the protocol (405, 413, 415), not by its kind. */
export class RequestError extends CliError {
  readonly statusCode: number
  constructor(code: string, status: number, message: string, cause?: unknown) {
    super(code, message, { kind: 'invalid', ...(cause === undefined ? {} : { cause }) })
    this.statusCode = status
  }
}

function describe(v: Violation, where: string): string {
  if (v.keyword === 'required') return `${where}/${String(v.params.missingProperty)} is required`
  if (v.keyword === 'additionalProperties') {
    return `${where} has an unknown field ${JSON.stringify(v.params.additionalProperty)}`
  }
  if (v.keyword === 'const') return `${where} must be ${JSON.stringify(v.params.allowedValue)}`
  return `${where} ${v.message ?? `breaks ${v.keyword}`}`
}

/**
 * A schema violation as `ERR_INVALID_REQUEST` (400), naming the field's path (`body/portBindings/0/
 * containerPort must be <= 65535`). For a field that may take several shapes, every alternative.
 */
export function invalidRequest(violations: readonly Violation[], context: string): RequestError {
  const path = (v: Violation): string => `${context}${v.instancePath}`
  const anyOf = violations.find((v) => v.keyword === 'anyOf')
  let message: string
  if (anyOf) {
    const at = path(anyOf)
    const options = violations
      .filter((v) => v !== anyOf && path(v) === at)
      .map((v) => describe(v, '').trim())
      .filter((text, i, all) => all.indexOf(text) === i)
    message = `${at} ${options.length > 0 ? options.join(', or ') : (anyOf.message ?? 'has the wrong shape')}`
  } else {
    const first = violations[0]
    message = first ? describe(first, path(first)) : `${context} is not valid`
  }
  return new RequestError(ERR_INVALID_REQUEST, 400, `invalid request: ${message}`)
}

/** Fastify's errors about the body itself, as cnm codes (their status kept). */
export function bodyError(err: { code?: unknown; statusCode?: unknown; message?: unknown }): RequestError | undefined {
  const message = String(err.message ?? '')
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new RequestError(
        ERR_UNSUPPORTED_MEDIA_TYPE,
        415,
        `${message.replace(/^Unsupported Media Type:?\s*/iu, 'unsupported media type ')}: send application/json`,
        err,
      )
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new RequestError(ERR_BODY_TOO_LARGE, 413, 'the request body is too large', err)
    default:
      break
  }
  const status = typeof err.statusCode === 'number' ? err.statusCode : 0
  const fastify = typeof err.code === 'string' && err.code.startsWith('FST_')
  if ((fastify || (err as Error).name === 'SyntaxError') && status >= 400 && status < 500) {
    return new RequestError(ERR_INVALID_REQUEST, status, `invalid request body: ${message}`, err)
  }
  return undefined
}

/** A route that exists with other methods: 405 naming them. */
export function methodNotAllowed(method: string, url: string, allowed: readonly string[]): RequestError {
  return new RequestError(
    ERR_METHOD_NOT_ALLOWED,
    405,
    `method ${method} is not allowed on ${url}: use ${allowed.join(', ')}`,
  )
}

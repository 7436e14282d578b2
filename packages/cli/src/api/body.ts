import { invalidArgument } from '../errors.js'

/** A request body as a plain object (an absent body is an empty one). */
export type Body = Record<string, unknown>

/** The body, checked to be a JSON object. */
export function bodyOf(raw: unknown): Body {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('the request body must be a JSON object')
  return raw as Body
}

/** Refuses fields the route does not know (a typo is an error, not silently ignored). */
export function onlyKeys(body: Body, allowed: readonly string[]): void {
  const extra = Object.keys(body).find((k) => !allowed.includes(k))
  if (extra !== undefined) {
    throw invalidArgument(`unknown field ${JSON.stringify(extra)}; expected one of ${allowed.join(', ')}`)
  }
}

export function str(body: Body, key: string): string | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string') throw invalidArgument(`field ${key} must be a string`)
  return v
}

export function requiredStr(body: Body, key: string): string {
  const v = str(body, key)
  if (v === undefined) throw invalidArgument(`field ${key} is required`)
  return v
}

export function bool(body: Body, key: string): boolean | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') throw invalidArgument(`field ${key} must be true or false`)
  return v
}

/** A string or an array of strings, as an array. */
export function strList(body: Body, key: string): string[] | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  const list = Array.isArray(v) ? v : [v]
  if (!list.every((x) => typeof x === 'string')) throw invalidArgument(`field ${key} must be a string or strings`)
  return list as string[]
}

export function num(body: Body, key: string): number | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (typeof v !== 'number') throw invalidArgument(`field ${key} must be a number`)
  return v
}

export function obj(body: Body, key: string): Record<string, unknown> | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgument(`field ${key} must be an object`)
  return v as Record<string, unknown>
}

export function objList<T>(body: Body, key: string): T[] | undefined {
  const v = body[key]
  if (v === undefined) return undefined
  if (!Array.isArray(v) || !v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) {
    throw invalidArgument(`field ${key} must be an array of objects`)
  }
  return v as T[]
}

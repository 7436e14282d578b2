import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type BuildValidator = NonNullable<
  NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']
>
/** What Fastify calls a route's validator with, and reads back: the result and `errors`. */
type Validate = ((data: unknown) => unknown) & { errors?: unknown }
type CompileRoute = (route: unknown) => Validate

/** A validator whose schema Ajv compiles on its first call. */
function lazyValidator(compile: () => Validate): Validate {
  let fn: Validate | undefined
  const validate: Validate = (data) => {
    fn ??= compile()
    return fn(data)
  }
  Object.defineProperty(validate, 'errors', { get: () => fn?.errors })
  return validate
}

/**
 * Fastify's own validator compiler (`@fastify/ajv-compiler`, with the server's `ajv` options), but
 * each route's schema is compiled by Ajv when a request first needs it, not while the server is
 * built: a daemon's start-up compiled every route's body, params and query schemas before it could
 * answer (a few hundred ms of CPU, most of the server's build). `warm` compiles the rest later,
 * after the daemon answers, one schema per turn of the event loop.
 */
export function lazyValidators(): { buildValidator: BuildValidator; warm(): void } {
  const pending: (() => void)[] = []
  const ajvFactory = AjvCompiler() as unknown as (externalSchemas: unknown, options: unknown) => CompileRoute
  const buildValidator = (externalSchemas: unknown, options: unknown): CompileRoute => {
    const compileRoute = ajvFactory(externalSchemas, options)
    return (route) => {
      let compiled: Validate | undefined
      const compile = (): Validate => {
        compiled ??= compileRoute(route)
        return compiled
      }
      pending.push(() => void compile())
      return lazyValidator(compile)
    }
  }
  return {
    buildValidator: buildValidator as unknown as BuildValidator,
    warm() {
      const next = (): void => {
        const step = pending.shift()
        if (!step) return
        try {
          step()
        } catch {
          // A schema Ajv refuses fails its route's requests (500), not the daemon.
        }
        setImmediate(next).unref()
      }
      setImmediate(next).unref()
    },
  }
}

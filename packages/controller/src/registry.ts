import type { DriverFactory } from '@cnm/driverapi'
import { ControllerError, ERR_INVALID_NAME, unknownDriver } from './errors.js'

/** A driver factory and the other names it answers to. */
export interface DriverRegistration {
  factory: DriverFactory
  /** Other names for the same driver (`simplebridge` for `bridge`, `none` for `null`). */
  aliases?: readonly string[]
}

/** Driver factories by name, and aliases to those names. */
export interface DriverRegistry {
  register(name: string, registration: DriverFactory | DriverRegistration): void
  /** The canonical name for a name or alias, or undefined. */
  resolve(name: string): string | undefined
  factory(name: string): DriverFactory
  names(): string[]
  /** The aliases of a canonical name. */
  aliasesOf(name: string): string[]
}

const NAME = /^[a-z][a-z0-9_.-]{0,63}$/u

/** A registry holding `initial` (later registrations may replace a factory, never shadow an alias). */
export function createRegistry(initial: Record<string, DriverFactory | DriverRegistration>): DriverRegistry {
  const factories = new Map<string, DriverFactory>()
  const aliases = new Map<string, string>()
  const registry: DriverRegistry = {
    register(name, registration) {
      const { factory, aliases: extra = [] } =
        typeof registration === 'function' ? { factory: registration } : registration
      for (const n of [name, ...extra]) {
        if (typeof n !== 'string' || !NAME.test(n)) {
          throw new ControllerError(
            ERR_INVALID_NAME,
            `invalid driver name ${JSON.stringify(n)}: use [a-z0-9_.-], a letter first`,
          )
        }
      }
      if (typeof factory !== 'function') {
        throw new ControllerError(ERR_INVALID_NAME, `driver ${name}: the factory must be a function`)
      }
      const taken = [name, ...extra].find((n) => aliases.has(n) && aliases.get(n) !== name)
      if (taken)
        throw new ControllerError(ERR_INVALID_NAME, `driver name ${taken} is already an alias of ${aliases.get(taken)}`)
      factories.set(name, factory)
      aliases.set(name, name)
      for (const a of extra) aliases.set(a, name)
    },
    resolve: (name) => (typeof name === 'string' ? aliases.get(name) : undefined),
    factory(name) {
      const f = factories.get(name)
      if (!f) throw unknownDriver(name)
      return f
    },
    names: () => [...factories.keys()],
    aliasesOf: (name) => [...aliases].filter(([alias, to]) => to === name && alias !== name).map(([alias]) => alias),
  }
  for (const [name, registration] of Object.entries(initial)) registry.register(name, registration)
  return registry
}

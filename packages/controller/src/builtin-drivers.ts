// The one place in the controller that names drivers: the built-ins every controller starts with.
// Anything else is registered through `createController({ drivers })` or `registerDriver`.
import { bridgeDriver } from '@cnm/bridge'
import { macvlanDriver } from '@cnm/macvlan'
import { nullDriver } from '@cnm/null'
import { overlayDriver } from '@cnm/overlay'
import type { DriverRegistration } from './registry.js'

/** The drivers a controller knows from the start, by name. */
export const BUILTIN_DRIVERS: Readonly<Record<string, DriverRegistration>> = Object.fromEntries(
  [bridgeDriver, nullDriver, macvlanDriver, overlayDriver].map(({ name, aliases, factory }) => [
    name,
    { factory, aliases: aliases ?? [] },
  ]),
)

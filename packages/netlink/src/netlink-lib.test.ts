import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { nl } from './netlink-lib.js'

const require = createRequire(import.meta.url)

describe('the netlink package, loaded without its index', () => {
  it('gives the same functions and codecs as the index', () => {
    const full = require('netlink') as Record<string, unknown>
    for (const key of ['createNetlink', 'createRtNetlink', 'parseError', 'AttrStream'] as const) {
      expect(typeof nl[key], key).toBe('function')
      expect(nl[key], key).toBe(full[key])
    }
    expect(typeof nl.rt.parseMessage).toBe('function')
    expect(nl.rt.parseMessage).toBe((full.rt as typeof nl.rt).parseMessage)
  })
})

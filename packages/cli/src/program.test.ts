import { describe, expect, it } from 'vitest'
import { commandWord, createProgram } from './program.js'

describe('createProgram with argv', () => {
  it('finds the command word past global options and their values', () => {
    const w = (...args: string[]): string | undefined => commandWord(['node', 'cnm', ...args])
    expect(w('network', 'ls')).toBe('network')
    expect(w('-H', 'unix:///x.sock', 'connect', 'n', 's')).toBe('connect')
    expect(w('--host=tcp://h:1', '--store', '/tmp/s.db', 'info')).toBe('info')
    expect(w('--tlscacert', 'ca', '--tlscert', 'c', '--tlskey', 'k', 'events')).toBe('events')
    expect(w('--version')).toBeUndefined()
    expect(w('--', 'network')).toBe('network')
  })

  it('registers only the command named, or every command otherwise', () => {
    const names = (argv?: string[]): string[] =>
      createProgram(argv ? { argv: ['node', 'cnm', ...argv] } : {}).commands.map((c) => c.name())
    expect(names(['network', 'ls'])).toEqual(['network'])
    expect(names(['disconnect', 'n', 's'])).toEqual(['connect', 'disconnect'])
    const all = names()
    expect(all).toEqual(expect.arrayContaining(['network', 'sandbox', 'endpoint', 'connect', 'disconnect', 'port']))
    expect(all).toEqual(expect.arrayContaining(['reconcile', 'info', 'events', 'serve', 'demo']))
    expect(names(['netwrk'])).toEqual(all) // a typo: every command, for the suggestion
    expect(names(['help', 'network'])).toEqual(all)
  })
})

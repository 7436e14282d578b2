import { describe, expect, it } from 'vitest'
import { parseCniEnv } from './env.js'

const base = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0' }

describe('parseCniEnv', () => {
  it('reads an ADD, DEL without a namespace, and the verbs that need no attachment', () => {
    expect(parseCniEnv({ ...base, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web;FOO=bar;IP=10.1.0.9' })).toEqual({
      command: 'ADD',
      containerId: 'c1',
      netns: '/run/netns/x',
      ifname: 'eth0',
      args: { K8S_POD_NAME: 'web', IP: '10.1.0.9' },
    })
    expect(parseCniEnv({ ...base, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBeUndefined()
    for (const command of ['VERSION', 'STATUS', 'GC'])
      expect(parseCniEnv({ CNI_COMMAND: command }).command).toBe(command)
    expect(parseCniEnv({ ...base, CNI_NETNS: '/proc/42/ns/net' }).netns).toBe('/proc/42/ns/net')
  })

  it.each([
    [{ ...base, CNI_COMMAND: undefined }, 'CNI_COMMAND is not set'],
    [{ ...base, CNI_COMMAND: 'add' }, 'not one of'],
    [{ ...base, CNI_CONTAINERID: '' }, 'CNI_CONTAINERID'],
    [{ ...base, CNI_CONTAINERID: '../x' }, 'CNI_CONTAINERID'],
    [{ ...base, CNI_IFNAME: 'a/b' }, 'CNI_IFNAME'],
    [{ ...base, CNI_IFNAME: 'sixteen-chars-xx' }, 'CNI_IFNAME'],
    [{ ...base, CNI_NETNS: undefined }, 'CNI_NETNS is required'],
    [{ ...base, CNI_NETNS: 'run/netns/x' }, 'absolute'],
    [{ ...base, CNI_NETNS: '/run/../etc/x' }, 'absolute'],
    [{ ...base, CNI_ARGS: 'FOO=bar' }, 'unknown key'],
    [{ ...base, CNI_ARGS: 'novalue' }, 'KEY=VALUE'],
  ])('refuses %o with code 4 (ERR_CNI_ENV)', (env, message) => {
    expect(() => parseCniEnv(env)).toThrow(
      expect.objectContaining({ code: 'ERR_CNI_ENV', cniCode: 4, message: expect.stringContaining(message) }),
    )
  })
})

import { lookup } from 'node:dns/promises'
import { existsSync, writeFileSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { expect, it } from 'vitest'
import { ERR_INVALID_NETNS_PATH } from './errors.js'
import { createNetns, deleteNetns, isNetnsMounted, netnsInode, withNetnsSync } from './namespace.js'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from './testing/index.js'

describeKernel('network namespaces (kernel)', () => {
  const host = useHostNetns()

  it('runs the test inside a fresh namespace that plays the host', () => {
    expect(host.inode).not.toBe(host.originInode)
    expect(netnsInode()).toBe(host.inode)
    const links = ipJson<{ ifname: string }[]>(['link', 'show'])
    expect(links.map((l) => l.ifname)).toEqual(['lo'])
  })

  it('a bridge made with ip is seen with ip -j, then removed', () => {
    const name = uniqueName('br')
    run('ip', ['link', 'add', name, 'type', 'bridge'])
    const [link] = ipJson<{ ifname: string; linkinfo?: { info_kind: string } }[]>(['-d', 'link', 'show', name])
    expect(link?.ifname).toBe(name)
    expect(link?.linkinfo?.info_kind).toBe('bridge')
    run('ip', ['link', 'del', name])
    expect(run('ip', ['link', 'show', name], { check: false }).status).not.toBe(0)
  })

  it('creates a persistent namespace at a path, with the caller left where it was', async () => {
    const path = host.netnsPath()
    const inode = await createNetns(path)
    try {
      expect(netnsInode()).toBe(host.inode)
      expect(isNetnsMounted(path)).toBe(true)
      expect(netnsInode(path)).toBe(inode)
      expect(inode).not.toBe(host.inode)
      const inside = ipJson<{ ifname: string }[]>(['link', 'show'], { netns: path })
      expect(inside.map((l) => l.ifname)).toEqual(['lo'])
      // Something made inside is seen inside only.
      const name = uniqueName('br')
      run('ip', ['link', 'add', name, 'type', 'bridge'], { netns: path })
      expect(ipJson<unknown[]>(['link', 'show', name], { netns: path })).toHaveLength(1)
      expect(run('ip', ['link', 'show', name], { check: false }).status).not.toBe(0)
    } finally {
      deleteNetns(path)
    }
    expect(existsSync(path)).toBe(false)
  })

  it('refuses an existing file with EEXIST and a relative path before changing anything', async () => {
    const path = host.netnsPath()
    writeFileSync(path, '')
    try {
      await expect(createNetns(path)).rejects.toMatchObject({ code: 'EEXIST' })
      expect(isNetnsMounted(path)).toBe(false)
    } finally {
      run('rm', ['-f', path])
    }
    await expect(createNetns('relative/ns')).rejects.toMatchObject({ code: ERR_INVALID_NETNS_PATH })
    await expect(createNetns('/run/../etc/x')).rejects.toMatchObject({ code: ERR_INVALID_NETNS_PATH })
  })

  it('switches synchronously and always returns, and the thread pool stays in the host', async () => {
    const path = host.netnsPath()
    const inode = await createNetns(path)
    try {
      for (let i = 0; i < 200; i++) {
        expect(withNetnsSync(path, () => netnsInode())).toBe(inode)
        expect(netnsInode()).toBe(host.inode)
      }
      expect(() =>
        withNetnsSync(path, () => {
          throw new Error('boom')
        }),
      ).toThrow('boom')
      expect(netnsInode()).toBe(host.inode)
      // Thread-pool work still runs in the namespace the process started in: an async stat of
      // /proc/thread-self/ns/net runs on a pool thread and names that thread's namespace.
      const inodes = await Promise.all(
        Array.from({ length: 16 }, async () => (await stat('/proc/thread-self/ns/net')).ino),
      )
      expect(new Set(inodes)).toEqual(new Set([host.originInode]))
      await expect(lookup('localhost')).resolves.toBeTruthy()
    } finally {
      deleteNetns(path)
    }
  })

  it('deleting a missing namespace reports ENOENT', () => {
    expect(() => deleteNetns(host.netnsPath())).toThrow(expect.objectContaining({ code: 'ENOENT' }))
  })
})

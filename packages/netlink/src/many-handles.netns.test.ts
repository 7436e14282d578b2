import { expect, it } from 'vitest'
import { type Handle, openHandle } from './handle.js'
import { describeKernel, useHostNetns } from './testing/index.js'

describeKernel('many netlink handles in one process (kernel)', () => {
  useHostNetns()

  // The netlink package picks a socket's port id from a 10-bit counter per process and gave up
  // ("Couldn't find a free address") past ~1000 open sockets: a daemon with a thousand sandboxes
  // hit it. The kernel assigns port ids now.
  it('opens 1,500 handles at once, each answering, and closes them', async () => {
    const handles: Handle[] = []
    try {
      for (let i = 0; i < 1500; i++) handles.push(await openHandle())
      const answers = await Promise.all(handles.map((h) => h.findLink('lo')))
      expect(answers.every((l) => l?.name === 'lo')).toBe(true)
    } finally {
      for (const h of handles) h.close()
    }
  })
})

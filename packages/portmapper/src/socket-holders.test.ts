import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { socketHolders } from './socket-holders.js'

/** The inodes of the sockets a process has open (its descriptors that link to `socket:[inode]`). */
function socketInodes(pid: number | 'self'): number[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      const m = /^socket:\[([0-9]+)\]$/u.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      return m ? [Number(m[1])] : []
    } catch {
      return []
    }
  })
}

describe('socketHolders', () => {
  it('names the process holding a socket (pid, command), and nothing for an unknown inode', async () => {
    const server = createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const mine = new Set(socketInodes('self'))
      const found = socketHolders(mine)
      expect([...found.values()].flat()).toContainEqual({ pid: process.pid, command: expect.any(String) })
      expect(socketHolders(new Set([2 ** 32 - 1])).size).toBe(0)
      expect(socketHolders(new Set()).size).toBe(0)
    } finally {
      server.close()
    }
  })

  it("gives another process's command name without its control characters", async () => {
    // A process naming itself with an escape sequence and a newline (prctl PR_SET_NAME).
    const child = spawn('python3', [
      '-c',
      [
        'import ctypes, socket, time',
        'ctypes.CDLL(None).prctl(15, "ev\\x1b[31m\\n\\u202eil".encode(), 0, 0, 0)',
        's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()',
        'print("up", flush=True); time.sleep(30)',
      ].join('\n'),
    ])
    try {
      await once(child.stdout, 'data')
      const pid = child.pid as number
      const found = [...socketHolders(new Set(socketInodes(pid))).values()].flat()
      expect(found).toContainEqual({ pid, command: 'ev?[31m??il' })
      // Only processes of the sockets' owners are read.
      expect(socketHolders(new Set(socketInodes(pid)), new Set([12345])).size).toBe(0)
      expect([...socketHolders(new Set(socketInodes(pid)), new Set([0])).values()].flat()).toContainEqual({
        pid,
        command: 'ev?[31m??il',
      })
    } finally {
      child.kill('SIGKILL')
    }
  })
})

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { cliVersion } from './program.js'

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

function cnm(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' })
}

describe('the cnm binary', () => {
  it('prints help and exits 0', () => {
    const res = cnm('--help')
    expect(res.status).toBe(0)
    expect(res.stdout).toContain('Usage: cnm')
    expect(res.stdout).toContain('Container Network Model')
  })

  it('prints its version', () => {
    const res = cnm('--version')
    expect(res.status).toBe(0)
    expect(res.stdout.trim()).toBe(cliVersion())
  })

  it('refuses an unknown command with a non-zero exit and one line naming it', () => {
    const res = cnm('frobnicate')
    expect(res.status).not.toBe(0)
    expect(res.stderr).toContain("unknown command 'frobnicate'")
  })
})

import { describe, expect, it } from 'vitest'
import { runAll, UndoStack, withUndo } from './undo.js'

describe('UndoStack', () => {
  it('runs every inverse in reverse, once, and returns every failure', async () => {
    const ran: string[] = []
    const undo = new UndoStack()
    const boom = (name: string) => (): never => {
      ran.push(name)
      throw new Error(name)
    }
    undo.push(() => ran.push('a'))
    undo.push(boom('b'))
    undo.push(async () => {
      ran.push('c')
    })
    undo.push(() => Promise.reject(new Error('d')))
    undo.push(boom('e'))
    expect(undo.size).toBe(5)
    const errors = await undo.undo()
    expect(ran).toEqual(['e', 'c', 'b', 'a'])
    expect(errors.map((e) => (e as Error).message)).toEqual(['e', 'd', 'b'])
    expect(undo.size).toBe(0)
    expect(await undo.undo()).toEqual([]) // emptied: nothing runs twice
    expect(ran).toHaveLength(4)
  })
})

describe('runAll', () => {
  it('runs every step in order and collects every failure', async () => {
    const ran: number[] = []
    const errors = await runAll([
      () => ran.push(1),
      () => {
        throw new Error('two')
      },
      async () => ran.push(3),
    ])
    expect(ran).toEqual([1, 3])
    expect(errors).toEqual([new Error('two')])
  })
})

describe('withUndo', () => {
  it('drops the inverses when the work succeeds', async () => {
    const ran: string[] = []
    const value = await withUndo(async (undo) => {
      undo.push(() => ran.push('undo'))
      return 42
    })
    expect(value).toBe(42)
    expect(ran).toEqual([])
  })

  it('undoes in reverse and rethrows the original error, undo failures attached', async () => {
    const ran: string[] = []
    const original = new Error('step 3 failed')
    const undoFailure = new Error('cannot undo step 1')
    await expect(
      withUndo(async (undo) => {
        undo.push(() => {
          ran.push('undo 1')
          throw undoFailure
        })
        undo.push(async () => ran.push('undo 2'))
        throw original
      }),
    ).rejects.toBe(original)
    expect(ran).toEqual(['undo 2', 'undo 1'])
    expect((original as Error & { undoErrors?: unknown[] }).undoErrors).toEqual([undoFailure])
  })

  it('attaches nothing when the undo succeeded, and leaves frozen or primitive errors alone', async () => {
    const clean = new Error('x')
    await expect(withUndo(async () => Promise.reject(clean))).rejects.toBe(clean)
    expect('undoErrors' in clean).toBe(false)
    const frozen = Object.freeze(new Error('frozen'))
    const failing = (undo: UndoStack): never => {
      undo.push(() => {
        throw new Error('undo')
      })
      throw frozen
    }
    await expect(withUndo(async (undo) => failing(undo))).rejects.toBe(frozen)
    await expect(
      withUndo(async (undo) => {
        undo.push(() => {
          throw new Error('undo')
        })
        throw 'text'
      }),
    ).rejects.toBe('text')
  })
})

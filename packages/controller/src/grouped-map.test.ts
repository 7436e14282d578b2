import { describe, expect, it } from 'vitest'
import { GroupedMap } from './grouped-map.js'

interface Row {
  id: string
  net: string
}

describe('GroupedMap', () => {
  it('keeps its groups current through set, replace, delete and clear', () => {
    const m = new GroupedMap(
      (r: Row) => r.net,
      [
        ['a', { id: 'a', net: 'n1' }],
        ['b', { id: 'b', net: 'n1' }],
        ['c', { id: 'c', net: 'n2' }],
      ],
    )
    expect(m.inGroup('n1').map((r) => r.id)).toEqual(['a', 'b'])
    expect(m.groupSize('n2')).toBe(1)
    m.set('a', { id: 'a', net: 'n1' }) // a row replaced within its group keeps its place, as in the map
    expect(m.inGroup('n1').map((r) => r.id)).toEqual(['a', 'b'])
    m.set('b', { id: 'b', net: 'n2' }) // a row replaced with another group's
    expect(m.inGroup('n1').map((r) => r.id)).toEqual(['a'])
    expect(m.inGroup('n2').map((r) => r.id)).toEqual(['c', 'b'])
    expect(m.delete('a')).toBe(true)
    expect(m.delete('a')).toBe(false)
    expect(m.groupSize('n1')).toBe(0)
    expect(m.firstInGroup('n1')).toBeUndefined()
    expect(m.firstInGroup('n2')?.id).toBe('c')
    m.clear()
    expect(m.size).toBe(0)
    expect(m.inGroup('n2')).toEqual([])
  })

  it('hands out a snapshot: deleting while going through a group is safe', () => {
    const m = new GroupedMap((r: Row) => r.net)
    for (const id of ['a', 'b', 'c']) m.set(id, { id, net: 'n' })
    for (const r of m.inGroup('n')) m.delete(r.id)
    expect(m.size).toBe(0)
    expect(m.groupSize('n')).toBe(0)
  })
})

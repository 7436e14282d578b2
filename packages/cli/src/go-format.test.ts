import { describe, expect, it } from 'vitest'
import { parseFormat, renderFormatted } from './go-format.js'

const net = {
  ID: 'abc',
  Name: 'front',
  IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24' }] },
  Labels: { a: '1' },
}

describe('--format (Go-template subset)', () => {
  it('renders fields, field paths and json, as docker network ls/inspect do', () => {
    expect(parseFormat('{{.Name}}').render(net)).toBe('front')
    expect(parseFormat('{{ .ID }}: {{.IPAM.Driver}}').render(net)).toBe('abc: default')
    expect(parseFormat('{{json .IPAM}}').render(net)).toBe('{"Driver":"default","Config":[{"Subnet":"10.1.0.0/24"}]}')
    expect(parseFormat('{{json .}}').render({ a: 1 })).toBe('{"a":1}')
    expect(parseFormat('{{.Labels}}').render(net)).toBe('map[a:1]')
    expect(parseFormat('{{.IPAM.Config}}').render(net)).toBe('[map[Subnet:10.1.0.0/24]]')
  })

  it('a table template prints a header row; \\t is a tab', () => {
    const f = parseFormat('table {{.ID}}\\t{{.Name}}')
    expect(renderFormatted(f, [net, { ...net, ID: 'def', Name: 'back' }])).toBe('ID\tNAME\nabc\tfront\ndef\tback\n')
    expect(renderFormatted(parseFormat('{{.Name}}'), [])).toBe('')
  })

  it('refuses what it does not understand, and unknown fields, naming them', () => {
    expect(() => parseFormat('{{range .X}}{{end}}')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining('{{range .X}}') }),
    )
    expect(() => parseFormat('{{.Name').render(net)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }))
    expect(() => parseFormat('{{.Nope}}').render(net)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('no field .Nope') }),
    )
  })
})

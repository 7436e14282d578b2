import { invalidArgument } from './errors.js'

/**
 * Docker's `--format`, the subset people's scripts use: text with `{{.Field}}` and field paths
 * (`{{.IPAM.Config}}`), `{{json .Field}}` and `{{json .}}`, and a leading `table` that prints a
 * header row (the field names, upper-cased, as Docker's). Anything else inside `{{ }}` is refused
 * with ERR_INVALID_ARGUMENT naming it (no silent blanks). `\t` and `\n` in the template are the
 * tab and newline (as Docker's table templates write them).
 */
export interface Format {
  table: boolean
  render(value: unknown): string
  header(): string
}

type Part = { text: string } | { path: string[]; json: boolean }

const ACTION = /^\{\{\s*(json\s+)?\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)?\s*\}\}/u

function parse(template: string): Part[] {
  const parts: Part[] = []
  let text = ''
  let i = 0
  while (i < template.length) {
    if (template.startsWith('{{', i)) {
      const m = template.slice(i).match(ACTION)
      if (!m) {
        const end = template.indexOf('}}', i)
        const action = end < 0 ? template.slice(i) : template.slice(i, end + 2)
        throw invalidArgument(
          `--format: ${JSON.stringify(action)} is not supported (use {{.Field}}, {{.A.B}} or {{json .Field}})`,
        )
      }
      if (text) parts.push({ text })
      text = ''
      parts.push({ path: m[2] ? m[2].split('.') : [], json: m[1] !== undefined })
      i += m[0].length
      continue
    }
    text += template[i]
    i++
  }
  if (text) parts.push({ text })
  return parts
}

function lookup(value: unknown, path: readonly string[], template: string): unknown {
  let cur = value
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) {
      throw invalidArgument(`--format ${JSON.stringify(template)}: no field .${path.join('.')}`)
    }
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

/** Go's default printing of a value, near enough: maps and lists as Go prints them. */
function plain(v: unknown): string {
  if (v === undefined || v === null) return '<no value>'
  if (Array.isArray(v)) return `[${v.map(plain).join(' ')}]`
  if (typeof v === 'object') {
    return `map[${Object.entries(v as Record<string, unknown>)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, x]) => `${k}:${plain(x)}`)
      .join(' ')}]`
  }
  return String(v)
}

/** Parses a `--format` template (checked before anything is asked of the daemon). */
export function parseFormat(raw: string): Format {
  const unescaped = raw.replace(/\\t/gu, '\t').replace(/\\n/gu, '\n')
  const table = /^table(\s|$)/u.test(unescaped)
  const template = table ? unescaped.replace(/^table\s*/u, '') : unescaped
  const parts = parse(template)
  return {
    table,
    render: (value) =>
      parts
        .map((p) => {
          if ('text' in p) return p.text
          const v = lookup(value, p.path, raw)
          return p.json ? JSON.stringify(v ?? null) : plain(v)
        })
        .join(''),
    header: () => parts.map((p) => ('text' in p ? p.text : (p.path[p.path.length - 1] ?? '').toUpperCase())).join(''),
  }
}

/** Prints each value with the format (a header first for `table`), one per line. */
export function renderFormatted(format: Format, values: readonly unknown[]): string {
  const lines = values.map((v) => format.render(v))
  if (format.table) lines.unshift(format.header())
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

/** One table of `iptables-save` output: its chains and its rules as argument tokens. */
export interface SavedTable {
  chains: Set<string>
  /** Each rule's tokens, starting `-A <chain>`; quotes removed. */
  rules: string[][]
}

/** A whole `iptables-save` / `ip6tables-save` output by table name. */
export type SavedRuleset = Map<string, SavedTable>

/** Splits a saved rule into tokens, honouring `"…"` quoting with `\` escapes as iptables-save writes it. */
export function tokenize(line: string): string[] {
  const tokens: string[] = []
  let i = 0
  while (i < line.length) {
    while (line[i] === ' ') i++
    if (i >= line.length) break
    let token = ''
    if (line[i] === '"') {
      i++
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++
        token += line[i]
        i++
      }
      i++
    } else {
      while (i < line.length && line[i] !== ' ') token += line[i++]
    }
    tokens.push(token)
  }
  return tokens
}

/** Quotes a token for restore input when it holds anything but plain characters. */
export function renderTokens(tokens: readonly string[]): string {
  return tokens.map((t) => (/^[A-Za-z0-9_.:/[\]!,-]+$/u.test(t) ? t : `"${t.replace(/["\\]/gu, '\\$&')}"`)).join(' ')
}

/** Parses `iptables-save` output. */
export function parseSave(text: string): SavedRuleset {
  const tables: SavedRuleset = new Map()
  let current: SavedTable | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: [] }
      tables.set(line.slice(1), current)
    } else if (current && line.startsWith(':')) {
      current.chains.add(line.slice(1).split(' ')[0] ?? '')
    } else if (current && line.startsWith('-A ')) {
      current.rules.push(tokenize(line))
    }
  }
  return tables
}

/** The rules of `chain` in `table` (tokens after `-A <chain>`). */
export function rulesOf(saved: SavedRuleset, table: string, chain: string): string[][] {
  return (saved.get(table)?.rules ?? []).filter((r) => r[1] === chain).map((r) => r.slice(2))
}

/** Whether `chain` exists in `table`. */
export function hasChain(saved: SavedRuleset, table: string, chain: string): boolean {
  return saved.get(table)?.chains.has(chain) ?? false
}

/** Whether two rule specs are the same (token by token). */
export function sameSpec(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i])
}

// A small TOML reader and writer, enough for kube-spawn's kspawn.toml: bare
// and quoted keys, strings, integers, floats, booleans, arrays, inline
// tables, [tables] and [[arrays of tables]], comments. Not a general TOML
// implementation (no dates, no multi-line strings).

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable
export interface TomlTable {
  [key: string]: TomlValue
}

export class TomlError extends Error {
  constructor(line: number, column: number, message: string) {
    // viper reports go-toml's errors as "(line, column): message"
    super(`(${line}, ${column}): ${message}`)
  }
}

class Reader {
  pos = 0
  line = 1
  lineStart = 0
  constructor(readonly text: string) {}

  error(message: string): TomlError {
    return new TomlError(this.line, this.pos - this.lineStart + 1, message)
  }
  peek(): string {
    return this.text[this.pos] ?? ''
  }
  next(): string {
    const c = this.text[this.pos++] ?? ''
    if (c === '\n') {
      this.line++
      this.lineStart = this.pos
    }
    return c
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++
  }
  /** Spaces, newlines and comments (inside arrays). */
  skipBlank(): void {
    for (;;) {
      const c = this.peek()
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.next()
      else if (c === '#') while (this.peek() !== '\n' && this.peek() !== '') this.next()
      else return
    }
  }
  endOfLine(): void {
    this.skipSpaces()
    if (this.peek() === '#') while (this.peek() !== '\n' && this.peek() !== '') this.next()
    if (this.peek() === '\r') this.next()
    const c = this.peek()
    if (c !== '\n' && c !== '') throw this.error(`unexpected ${JSON.stringify(c)} after value`)
    this.next()
  }
}

function readKeyPart(r: Reader): string {
  r.skipSpaces()
  const c = r.peek()
  if (c === '"' || c === "'") return readString(r)
  const start = r.pos
  while (/[A-Za-z0-9_-]/.test(r.peek())) r.pos++
  if (r.pos === start) throw r.error(`expected a key, got ${JSON.stringify(c)}`)
  return r.text.slice(start, r.pos)
}

function readDottedKey(r: Reader): string[] {
  const parts = [readKeyPart(r)]
  r.skipSpaces()
  while (r.peek() === '.') {
    r.pos++
    parts.push(readKeyPart(r))
    r.skipSpaces()
  }
  return parts
}

function readString(r: Reader): string {
  const quote = r.next()
  let out = ''
  for (;;) {
    const c = r.next()
    if (c === '' || c === '\n') throw r.error('unterminated string')
    if (c === quote) return out
    if (c === '\\' && quote === '"') {
      const e = r.next()
      const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' }
      if (e in simple) out += simple[e]
      else if (e === 'u' || e === 'U') {
        const len = e === 'u' ? 4 : 8
        const hex = r.text.slice(r.pos, r.pos + len)
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw r.error('invalid unicode escape')
        r.pos += len
        out += String.fromCodePoint(parseInt(hex, 16))
      } else throw r.error(`invalid escape \\${e}`)
    } else out += c
  }
}

function readValue(r: Reader): TomlValue {
  r.skipSpaces()
  const c = r.peek()
  if (c === '"' || c === "'") return readString(r)
  if (c === '[') {
    r.next()
    const items: TomlValue[] = []
    for (;;) {
      r.skipBlank()
      if (r.peek() === ']') {
        r.next()
        return items
      }
      items.push(readValue(r))
      r.skipBlank()
      if (r.peek() === ',') r.next()
      else if (r.peek() !== ']') throw r.error('expected , or ] in array')
    }
  }
  if (c === '{') {
    r.next()
    const table: TomlTable = {}
    r.skipSpaces()
    if (r.peek() === '}') {
      r.next()
      return table
    }
    for (;;) {
      const key = readDottedKey(r)
      r.skipSpaces()
      if (r.next() !== '=') throw r.error('expected = in inline table')
      assign(r, table, key, readValue(r))
      r.skipSpaces()
      const d = r.next()
      if (d === '}') return table
      if (d !== ',') throw r.error('expected , or } in inline table')
    }
  }
  const start = r.pos
  while (/[A-Za-z0-9_+.\-:]/.test(r.peek())) r.pos++
  const word = r.text.slice(start, r.pos)
  if (word === 'true') return true
  if (word === 'false') return false
  const numeric = word.replaceAll('_', '')
  if (/^[+-]?\d+$/.test(numeric)) return Number.parseInt(numeric, 10)
  if (/^[+-]?(\d+(\.\d+)?([eE][+-]?\d+)?|inf|nan)$/.test(numeric)) return Number(numeric)
  throw r.error(word ? `unsupported value ${JSON.stringify(word)}` : `unexpected ${JSON.stringify(c)}`)
}

function isTable(v: TomlValue | undefined): v is TomlTable {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function descend(r: Reader, root: TomlTable, path: string[]): TomlTable {
  let table = root
  for (const part of path) {
    const existing = table[part]
    if (existing === undefined) table = table[part] = {}
    else if (isTable(existing)) table = existing
    else if (Array.isArray(existing) && isTable(existing[existing.length - 1])) table = existing[existing.length - 1] as TomlTable
    else throw r.error(`key ${part} is not a table`)
  }
  return table
}

function assign(r: Reader, table: TomlTable, key: string[], value: TomlValue): void {
  const target = descend(r, table, key.slice(0, -1))
  const last = key[key.length - 1]!
  if (last in target) throw r.error(`duplicate key ${last}`)
  target[last] = value
}

export function parseToml(text: string): TomlTable {
  const r = new Reader(text)
  const root: TomlTable = {}
  let current = root
  for (;;) {
    r.skipBlank()
    if (r.peek() === '') return root
    if (r.peek() === '[') {
      r.next()
      const arrayOfTables = r.peek() === '['
      if (arrayOfTables) r.next()
      const path = readDottedKey(r)
      if (r.next() !== ']' || (arrayOfTables && r.next() !== ']')) throw r.error('expected ] after table name')
      r.endOfLine()
      if (arrayOfTables) {
        const parent = descend(r, root, path.slice(0, -1))
        const last = path[path.length - 1]!
        const list = parent[last] ?? (parent[last] = [])
        if (!Array.isArray(list)) throw r.error(`key ${last} is not an array of tables`)
        const table: TomlTable = {}
        list.push(table)
        current = table
      } else current = descend(r, root, path)
      continue
    }
    const key = readDottedKey(r)
    r.skipSpaces()
    if (r.next() !== '=') throw r.error('expected = after key')
    assign(r, current, key, readValue(r))
    r.endOfLine()
  }
}

// Writing, in the layout go-toml gives kube-spawn's kspawn.toml: plain values
// first, sorted, then sub-tables, each level indented by two spaces.

function quoteKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key)
}

function formatScalar(value: TomlValue): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `[${value.map(formatScalar).join(', ')}]`
  return `{ ${Object.entries(value).map(([k, v]) => `${quoteKey(k)} = ${formatScalar(v)}`).join(', ')} }`
}

const isTableArray = (v: TomlValue): v is TomlTable[] => Array.isArray(v) && v.length > 0 && v.every(isTable)

/** comments: table path ("machines.name") -> comment written above that key. */
export function stringifyToml(root: TomlTable, comments: Record<string, string> = {}): string {
  const lines: string[] = []
  const write = (table: TomlTable, path: string[], indent: string): void => {
    const keys = Object.keys(table).sort()
    const plain = keys.filter((k) => !isTable(table[k]!) && !isTableArray(table[k]!))
    const nested = keys.filter((k) => !plain.includes(k))
    for (const key of plain) {
      const comment = comments[[...path, key].join('.')]
      if (comment) lines.push(`${indent}# ${comment}`)
      lines.push(`${indent}${quoteKey(key)} = ${formatScalar(table[key]!)}`)
    }
    for (const key of nested) {
      const value = table[key]!
      const sub = [...path, key]
      const name = sub.map(quoteKey).join('.')
      const comment = comments[sub.join('.')]
      if (isTable(value)) {
        lines.push('')
        if (comment) lines.push(`${indent}# ${comment}`)
        lines.push(`${indent}[${name}]`)
        write(value, sub, path.length === 0 ? '  ' : indent + '  ')
      } else {
        for (const item of value as TomlTable[]) {
          lines.push('')
          if (comment) lines.push(`${indent}# ${comment}`)
          lines.push(`${indent}[[${name}]]`)
          write(item, sub, path.length === 0 ? '  ' : indent + '  ')
        }
      }
    }
  }
  write(root, [], '')
  return lines.join('\n') + '\n'
}

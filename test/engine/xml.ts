// A small, strict XML reader for the tests of junit.xml: elements,
// attributes in double or single quotes, text, the five entities and
// character references, an XML declaration and comments. Anything not
// well-formed throws: a raw `<` or `&`, a character XML 1.0 does not allow,
// a tag not closed or closed by another, an attribute given twice, text
// outside the root. Attribute values are normalized as a reader does (a
// literal tab or line end becomes a space), so escaping is checked too.

export interface XmlElement {
  name: string
  attributes: Record<string, string>
  children: XmlElement[]
  /** The element's own text, its children's left out. */
  text: string
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y
const ALLOWED = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u

export function parseXml(source: string): XmlElement {
  if (!ALLOWED.test(source)) throw new Error('a character XML 1.0 does not allow')
  let at = 0
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${at}: ${JSON.stringify(source.slice(at, at + 30))}`)
  }
  const skipSpace = () => {
    while (/[ \t\r\n]/.test(source[at] ?? '')) at++
  }
  const name = (): string => {
    NAME.lastIndex = at
    const match = NAME.exec(source)
    if (!match) fail('expected a name')
    at += match![0].length
    return match![0]
  }
  const decode = (raw: string): string =>
    raw.replace(/&([^;]*);?/g, (whole, entity: string) => {
      if (!whole.endsWith(';')) fail('an & that starts no reference')
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
      if (entity in named) return named[entity]!
      const code = /^#x([0-9a-fA-F]+)$/.exec(entity)?.[1] ?? /^#([0-9]+)$/.exec(entity)?.[1]
      if (code === undefined) return fail(`unknown entity &${entity};`)
      const char = String.fromCodePoint(parseInt(code, entity.startsWith('#x') ? 16 : 10))
      if (!ALLOWED.test(char)) fail(`a reference to a character XML does not allow: &${entity};`)
      return char
    })
  const misc = () => {
    for (;;) {
      skipSpace()
      if (source.startsWith('<!--', at)) {
        const end = source.indexOf('-->', at)
        if (end === -1) fail('a comment not closed')
        at = end + 3
      } else return
    }
  }
  const element = (): XmlElement => {
    if (source[at] !== '<') fail('expected <')
    at++
    const node: XmlElement = { name: name(), attributes: {}, children: [], text: '' }
    for (;;) {
      const before = at
      skipSpace()
      if (source.startsWith('/>', at)) {
        at += 2
        return node
      }
      if (source[at] === '>') {
        at++
        break
      }
      if (before === at) fail('expected a space before an attribute')
      const key = name()
      if (key in node.attributes) fail(`attribute ${key} given twice`)
      skipSpace()
      if (source[at] !== '=') fail('expected =')
      at++
      skipSpace()
      const quote = source[at]
      if (quote !== '"' && quote !== "'") fail('expected a quoted value')
      const end = source.indexOf(quote!, at + 1)
      if (end === -1) fail('a value not closed')
      const raw = source.slice(at + 1, end)
      if (raw.includes('<')) fail('a raw < in an attribute')
      node.attributes[key] = decode(raw.replace(/[\t\n\r]/g, ' '))
      at = end + 1
    }
    for (;;) {
      const next = source.indexOf('<', at)
      if (next === -1) fail(`<${node.name}> not closed`)
      const raw = source.slice(at, next)
      if (raw.includes(']]>')) fail(']]> in text')
      node.text += decode(raw)
      at = next
      if (source.startsWith('</', at)) {
        at += 2
        const closing = name()
        if (closing !== node.name) fail(`<${node.name}> closed by </${closing}>`)
        skipSpace()
        if (source[at] !== '>') fail('expected >')
        at++
        return node
      }
      if (source.startsWith('<!--', at)) {
        misc()
        continue
      }
      node.children.push(element())
    }
  }
  if (source.startsWith('<?xml', 0)) {
    const end = source.indexOf('?>')
    if (end === -1) fail('a declaration not closed')
    at = end + 2
  }
  misc()
  const root = element()
  misc()
  if (at !== source.length) fail('something after the root element')
  return root
}

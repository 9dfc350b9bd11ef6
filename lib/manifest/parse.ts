// Reading a manifest's YAML while keeping where every value is: a problem's path becomes file:line:col.
import type { Document, Node } from 'yaml'
import { yamlLib } from './yaml-lib.ts'
import type { ManifestPath, Problem } from './check-shape.ts'

export type Located = { line: number; col: number; message: string }

export type ParsedYaml = {
  /** the plain value, or undefined when the YAML itself is broken */
  value: unknown
  /** YAML syntax problems (bad indentation, duplicate keys, tabs...) */
  syntax: Located[]
  /** file:line:col of a path (the nearest existing parent when the path does not exist) */
  locate(path: ManifestPath, onKey?: boolean): { line: number; col: number }
}

export function parseYaml(text: string): ParsedYaml {
  const { LineCounter, parseDocument } = yamlLib()
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true })
  const pos = (offset: number) => lines.linePos(offset)
  const syntax = [...doc.errors].map((e) => {
    const { line, col } = pos(e.pos[0])
    return { line, col, message: e.message.split('\n')[0]! }
  })
  return {
    value: syntax.length ? undefined : doc.toJS({ maxAliasCount: 100 }),
    syntax,
    locate(path, onKey = false) {
      const { node, key } = walk(doc, path)
      const target = onKey && key ? key : node
      return pos(target?.range?.[0] ?? 0)
    },
  }
}

/** The deepest node along `path`, and the key node of the last pair reached. */
function walk(doc: Document, path: ManifestPath): { node: Node | null; key: Node | null } {
  const { isMap, isPair, isScalar, isSeq } = yamlLib()
  let node = doc.contents as Node | null
  let key: Node | null = null
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step))
      if (!pair) return { node, key: null }
      key = pair.key as Node
      node = (pair.value as Node | null) ?? key
    } else if (isSeq(node) && typeof step === 'number' && node.items[step]) {
      key = null
      node = node.items[step] as Node
    } else return { node, key: null }
  }
  return { node, key }
}

/** Problems as "file:line:col: message", in the file's order. */
export function locateAll(file: string, parsed: ParsedYaml, problems: Problem[]): string[] {
  return problems
    .map((p) => ({ ...parsed.locate(p.path, p.onKey), message: p.message, at: p.path.join('.') }))
    .sort((a, b) => a.line - b.line || a.col - b.col)
    .map((p) => `${file}:${p.line}:${p.col}: ${p.at ? `${p.at}: ` : ''}${p.message}`)
}

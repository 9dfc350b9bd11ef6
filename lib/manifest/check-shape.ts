// Checks a parsed manifest against its shape (lib/manifest/shape.ts) and collects every problem at once,
// each with the path of the offending value and what was expected, like a compiler.
import type { Shape } from './shape.ts'

export type ManifestPath = Array<string | number>

/** One problem; `onKey` locates it at a mapping's key (an unknown key) rather than at its value. */
export type Problem = { path: ManifestPath; message: string; onKey?: boolean }

const show = (v: unknown): string => {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

const typeOf = (v: unknown): string =>
  v === null
    ? 'nothing (null)'
    : Array.isArray(v)
      ? 'a list'
      : typeof v === 'object'
        ? 'a mapping'
        : `${typeof v} ${show(v)}`

/** Every problem of `value` against `shape`, in document order. */
export function checkShape(value: unknown, shape: Shape, path: ManifestPath = []): Problem[] {
  const bad = (what: string): Problem[] => [{ path, message: `${what}; expected ${shape.doc}` }]
  switch (shape.kind) {
    case 'string':
      if (typeof value !== 'string') return bad(`got ${typeOf(value)}`)
      if (shape.pattern && !new RegExp(shape.pattern).test(value)) return bad(`${show(value)} is not allowed`)
      return []
    case 'int':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return bad(`got ${typeOf(value)}`)
      if (shape.kind === 'int' && !Number.isInteger(value)) return bad(`${value} is not a whole number`)
      if (value < shape.min || value > shape.max) return bad(`${value} is out of range`)
      return []
    case 'bool':
      return typeof value === 'boolean' ? [] : bad(`got ${typeOf(value)}`)
    case 'enum':
      return typeof value === 'string' && shape.values.includes(value)
        ? []
        : bad(`got ${typeOf(value)}, not one of ${shape.values.join(', ')}`)
    case 'array':
      if (!Array.isArray(value)) return bad(`got ${typeOf(value)}`)
      if (shape.minItems !== undefined && value.length < shape.minItems) return bad('the list is empty')
      return value.flatMap((item, i) => checkShape(item, shape.items, [...path, i]))
    case 'map':
      if (!isMapping(value)) return bad(`got ${typeOf(value)}`)
      return Object.entries(value).flatMap(([k, v]) =>
        new RegExp(shape.keyPattern).test(k)
          ? checkShape(v, shape.values, [...path, k])
          : [
              {
                path: [...path, k],
                onKey: true,
                message: `${show(k)} is not allowed as a key; expected ${shape.keyDoc}`,
              },
            ],
      )
    case 'object':
      return checkObject(value, shape, path)
  }
}

function checkObject(value: unknown, shape: Extract<Shape, { kind: 'object' }>, path: ManifestPath): Problem[] {
  if (!isMapping(value)) return [{ path, message: `got ${typeOf(value)}; expected ${shape.doc}` }]
  const known = Object.keys(shape.props)
  const out: Problem[] = []
  for (const [k, v] of Object.entries(value)) {
    const prop = shape.props[k]
    if (!prop) {
      const hint = closest(k, known)
      out.push({
        path: [...path, k],
        onKey: true,
        message: `unknown key ${show(k)}${hint ? ` (did you mean ${show(hint)}?)` : ''}; expected one of: ${known.join(', ')}`,
      })
    } else out.push(...checkShape(v, prop.shape, [...path, k]))
  }
  for (const [k, prop] of Object.entries(shape.props)) {
    if (prop.required && !(k in value)) out.push({ path, message: `missing key ${show(k)}: ${prop.shape.doc}` })
  }
  return out
}

export function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** The known key nearest to a misspelt one (edit distance at most 2), for "did you mean". */
function closest(word: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestD = 3
  for (const k of known) {
    const d = distance(word, k)
    if (d < bestD) {
      best = k
      bestD = d
    }
  }
  return best
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = cur
  }
  return prev[b.length]!
}

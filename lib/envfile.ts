// A strict reader for KEY=VALUE env files that remembers where each value came from.
// Accepted: blank lines, # comments, optional `export `, values bare or in '' or "" quotes.
// Anything else is an error naming the file and line (we never guess).

export type EnvEntry = { value: string; file: string; line: number }
export type EnvProblem = { file: string; line: number; message: string }

const KEY = /^[A-Z][A-Z0-9_]*$/

export function parseEnvFile(text: string, file: string): { entries: Map<string, EnvEntry>; problems: EnvProblem[] } {
  const entries = new Map<string, EnvEntry>()
  const problems: EnvProblem[] = []
  if (text.includes('\0')) {
    problems.push({ file, line: 1, message: 'the file contains NUL bytes; it is not a text env file' })
    return { entries, problems }
  }
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, i) => {
    const line = i + 1
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#')) return
    const body = trimmed.startsWith('export ') ? trimmed.slice(7).trimStart() : trimmed
    const eq = body.indexOf('=')
    if (eq <= 0) {
      problems.push({ file, line, message: `"${clip(trimmed)}" is not KEY=VALUE` })
      return
    }
    const key = body.slice(0, eq).trim()
    if (!KEY.test(key)) {
      problems.push({
        file,
        line,
        message: `"${clip(key)}" is not a valid name (use A-Z, 0-9 and _, starting with a letter)`,
      })
      return
    }
    let value = body.slice(eq + 1).trim()
    const q = value[0]
    if (q === '"' || q === "'") {
      if (value.length < 2 || value[value.length - 1] !== q) {
        problems.push({
          file,
          line,
          message: `${key}: the quoted value is not closed (multi-line values are not supported)`,
        })
        return
      }
      value = value.slice(1, -1)
    } else {
      const hash = value.search(/\s#/)
      if (hash >= 0) value = value.slice(0, hash).trimEnd()
    }
    entries.set(key, { value, file, line })
  })
  return { entries, problems }
}

/** Renders one KEY=VALUE line, quoting only when needed. */
export function renderEnvLine(key: string, value: string): string {
  if (!KEY.test(key)) throw new Error(`invalid env key ${key}`)
  if (/[\r\n\0]/.test(value)) throw new Error(`${key}: a value can't contain newlines`)
  return /^[A-Za-z0-9_./:@%+,-]*$/.test(value) ? `${key}=${value}` : `${key}='${value.replace(/'/g, '')}'`
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}…` : s
}

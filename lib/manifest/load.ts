// Loading a manifest: read the file (or <dir>/app.yaml), check shape and rules for the file and for each
// target's overrides, and return the typed model for one target, or throw ManifestError with every problem.
import fs from 'node:fs'
import path from 'node:path'
import { UsageError } from '../errors.ts'
import { checkShape, isMapping, type Problem } from './check-shape.ts'
import { toModel } from './model.ts'
import { locateAll, parseYaml } from './parse.ts'
import { checkRules } from './rules.ts'
import { MANIFEST } from './shape.ts'
import { TARGETS, type Manifest } from './types.ts'

export const MANIFEST_FILE = 'app.yaml'

/** The manifest was refused: `problems` are "file:line:col: message" lines, all of them. */
export class ManifestError extends UsageError {
  problems: string[]
  constructor(file: string, problems: string[]) {
    const n = problems.length
    super(
      `Can't use the manifest ${file}: ${n} problem${n === 1 ? '' : 's'}\n  ${problems.join('\n  ')}`,
      'Fix each line above (file:line:col) and run again; nothing was changed. Reference: README "Manifest reference".',
    )
    this.problems = problems
  }
}

/** A manifest path from --app: a directory holding app.yaml, or the file itself. */
export function manifestFile(app: string, cwd = process.cwd()): string {
  const abs = path.resolve(cwd, app)
  return fs.existsSync(abs) && fs.statSync(abs).isDirectory() ? path.join(abs, MANIFEST_FILE) : abs
}

/** Reads and validates the manifest at `app` (dir or file); throws ManifestError or UsageError. */
export function loadManifest(app: string, o: { target?: string; cwd?: string } = {}): Manifest {
  const { file, text } = readManifest(app, o.cwd)
  return parseManifest(text, file, o.target)
}

/** The manifest file named by `app` (dir or file) and its text; UsageError when it can't be read. */
export function readManifest(app: string, cwd = process.cwd()): { file: string; text: string } {
  const file = manifestFile(app, cwd)
  try {
    return { file, text: fs.readFileSync(file, 'utf8') }
  } catch (err) {
    throw new UsageError(
      `Can't read the manifest ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      `Pass --app <dir|file> (or set APP in env/.env.<target>) naming an app directory with ${MANIFEST_FILE}, e.g. --app examples/dms.`,
    )
  }
}

/** Pure: the text of a manifest -> the model for `target` (overrides applied), or ManifestError. */
export function parseManifest(text: string, file: string, target?: string): Manifest {
  const problems = manifestProblems(text, file)
  if (problems.length) throw new ManifestError(file, problems)
  const raw = parseYaml(text).value as Record<string, unknown>
  return toModel(target ? merged(raw, target) : raw, file, target)
}

/** Every located problem of a manifest's text (empty: valid for the file and for every target). */
export function manifestProblems(text: string, file: string): string[] {
  const parsed = parseYaml(text)
  if (parsed.syntax.length) return parsed.syntax.map((s) => `${file}:${s.line}:${s.col}: ${s.message}`)
  const raw = parsed.value
  const problems = all(raw)
  if (isMapping(raw) && isMapping(raw.targets)) {
    // each target's merged manifest must be whole too; its new problems are shown at the override
    const base = new Set(problems.map(key))
    for (const t of TARGETS) {
      if (!isMapping(raw.targets[t])) continue
      for (const p of all(merged(raw, t)))
        if (!base.has(key(p))) problems.push({ ...p, path: ['targets', t, ...p.path] })
    }
  }
  return [...new Set(locateAll(file, parsed, problems))]
}

const key = (p: Problem) => `${p.path.join('\0')}\0${p.message}`

/** Shape problems, then the rules' problems about values whose shape was right. */
function all(raw: unknown): Problem[] {
  const shape = checkShape(raw, MANIFEST)
  if (!isMapping(raw)) return shape
  const broken = shape.map((p) => p.path.join('\0'))
  return [...shape, ...checkRules(raw).filter((p) => !broken.some((b) => p.path.join('\0').startsWith(b) && b !== ''))]
}

/** The file with targets.<target> merged over it: mappings merge by key, lists and values replace. */
export function merged(raw: Record<string, unknown>, target: string): Record<string, unknown> {
  const { targets, ...base } = raw
  const over = isMapping(targets) && isMapping(targets[target]) ? targets[target] : {}
  return deepMerge(base, over) as Record<string, unknown>
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (!isMapping(a) || !isMapping(b)) return b === undefined ? a : b
  const out: Record<string, unknown> = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v)
  return out
}

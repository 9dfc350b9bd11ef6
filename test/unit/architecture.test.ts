// The shape of the code (docs/architecture.md): no module imports from a layer above its own, no
// import cycle, no new file over 300 lines or function over 80, and config values read only in config.
// The checker itself is tested first on small in-memory sources, so each check is seen to fail.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  LAYER_OF,
  cycles,
  importGraph,
  layerOf,
  longFunctions,
  parseImports,
  upwardEdges,
  type Graph,
  type Layer,
} from '../helpers/architecture.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MAX_FILE_LINES = 300
const MAX_FUNCTION_LINES = 80

/**
 * Upward edges known today, each with the change that removes it. The test fails when a new one
 * appears and when one is fixed without being taken off this list.
 */
const KNOWN_UPWARD: string[] = []

/** Files over 300 lines known today: each is being split (#13) or waits for its own change. */
const KNOWN_LONG_FILES: string[] = []

/** Functions over 80 lines known today ("file: function"). */
const KNOWN_LONG_FUNCTIONS: string[] = []

const graph = importGraph(ROOT, ['lib', 'scripts'])
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8')

// ---------------------------------------------------------------- the checker on small sources

test('parseImports: static, type-only, re-exports, multi-line and dynamic imports; packages and comments are not edges', () => {
  const src = [
    "import fs from 'node:fs'",
    "import { a } from './a.ts'",
    "import type { B } from '../b.ts'",
    'import {',
    '  c,',
    '  type D,',
    "} from './c.ts'",
    "export { e } from './e.ts'",
    "export type { F } from './f.ts'",
    "// import { g } from './g.ts'",
    "const h = await import('./h.ts')",
    "import { $ } from 'zx'",
  ].join('\n')
  assert.equal(parseImports(src), ['./a.ts', '../b.ts', './c.ts', './e.ts', './f.ts', './h.ts'])
})

test('upwardEdges names each edge to a higher layer and each file without a layer', () => {
  const layers: Record<string, Layer> = {
    'lib/model.ts': 'model',
    'lib/errors.ts': 'core',
    'lib/op.ts': 'operation',
    'lib/adapter.ts': 'adapter',
  }
  const g: Graph = new Map([
    ['lib/model.ts', ['lib/errors.ts']],
    ['lib/op.ts', ['lib/model.ts', 'lib/adapter.ts']],
    ['lib/adapter.ts', ['lib/op.ts', 'lib/errors.ts']],
    ['lib/new.ts', []],
  ])
  assert.equal(
    upwardEdges(g, (f) => layers[f]),
    [
      'lib/adapter.ts (adapter) imports lib/op.ts (operation)',
      'lib/new.ts has no layer (add it to LAYER_OF and to docs/architecture.md)',
    ],
  )
  assert.equal(
    upwardEdges(new Map([['lib/model.ts', ['lib/errors.ts']]]), (f) => layers[f]),
    [],
  )
})

test('cycles finds each cycle once, named from its smallest file; a chain is no cycle', () => {
  const g: Graph = new Map([
    ['c.ts', ['a.ts']],
    ['a.ts', ['b.ts', 'x.ts']],
    ['b.ts', ['c.ts']],
    ['x.ts', ['y.ts']],
    ['y.ts', ['x.ts']],
    ['z.ts', ['a.ts']],
  ])
  assert.equal(cycles(g), ['a.ts -> b.ts -> c.ts -> a.ts', 'x.ts -> y.ts -> x.ts'])
  assert.equal(
    cycles(
      new Map([
        ['a.ts', ['b.ts']],
        ['b.ts', ['c.ts']],
        ['c.ts', []],
      ]),
    ),
    [],
  )
})

test('longFunctions counts declarations, arrows and methods to their closing brace', () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  const v${i} = ${i}`).join('\n')
  const src = [
    'export async function long(a: number): Promise<{',
    '  x: number',
    '}> {',
    body(80),
    '}',
    'const short = (x: number) => {',
    body(3),
    '}',
    'export const arrow = async (a: string): Promise<void> => {',
    body(79),
    '}',
    'class K {',
    '  method(a: number): number {',
    body(85).replace(/^ {2}/gm, '    '),
    '  }',
    '}',
  ].join('\n')
  assert.equal(longFunctions(src, 80), [
    { name: 'long', lines: 84 },
    { name: 'arrow', lines: 81 },
    { name: 'method', lines: 87 },
  ])
})

test('layerOf: the table first, then the folder (scripts/, lib/pipeline/, lib/stores/)', () => {
  assert.is(layerOf('lib/model.ts'), 'model')
  assert.is(layerOf('scripts/status.ts'), 'script')
  assert.is(layerOf('lib/pipeline/deploy.ts'), 'operation')
  assert.is(layerOf('lib/stores/file-store.ts'), 'adapter')
  assert.is(layerOf('lib/unknown.ts'), undefined)
})

// ---------------------------------------------------------------- the code

test('the import graph of lib/ and scripts/ was read', () => {
  assert.ok(graph.size > 60, `${graph.size} files`)
  assert.ok(graph.get('lib/model.ts')?.includes('lib/errors.ts'), 'model.ts imports errors.ts')
  for (const f of Object.keys(LAYER_OF)) assert.ok(graph.has(f), `${f} is in LAYER_OF but not in lib/ (remove it)`)
})

test('no module imports from a layer above its own (beyond the known edges listed above)', () => {
  const found = upwardEdges(graph)
  const fresh = found.filter((e) => !KNOWN_UPWARD.includes(e))
  const fixed = KNOWN_UPWARD.filter((e) => !found.includes(e))
  assert.equal(fresh, [], `imports from a higher layer:\n${fresh.join('\n')}`)
  assert.equal(fixed, [], `fixed: take these off KNOWN_UPWARD:\n${fixed.join('\n')}`)
})

test('model.ts imports only core modules: errors.ts, and the timeline entry type of timeline.ts', () => {
  assert.equal([...(graph.get('lib/model.ts') ?? [])].sort(), ['lib/errors.ts', 'lib/timeline.ts'])
})

test('there is no import cycle', () => {
  const found = cycles(graph)
  assert.equal(found, [], `import cycles:\n${found.join('\n')}`)
})

test(`files over ${MAX_FILE_LINES} lines are exactly the known ones`, () => {
  const long = [...graph.keys()].filter((f) => read(f).trimEnd().split('\n').length > MAX_FILE_LINES).sort()
  assert.equal(long, [...KNOWN_LONG_FILES].sort(), `files over ${MAX_FILE_LINES} lines: ${long.join(', ')}`)
})

test(`functions over ${MAX_FUNCTION_LINES} lines are exactly the known ones`, () => {
  const long = [...graph.keys()]
    .flatMap((f) => longFunctions(read(f), MAX_FUNCTION_LINES).map((x) => `${f}: ${x.name}`))
    .sort()
  assert.equal(long, [...KNOWN_LONG_FUNCTIONS].sort(), `functions over ${MAX_FUNCTION_LINES} lines: ${long.join(', ')}`)
})

test('config values are read in config only: no config.raw outside lib/config*.ts', () => {
  const readers = [...graph.keys()].filter((f) => !/^lib\/config[^/]*\.ts$/.test(f) && /\bconfig\.raw\b/.test(read(f)))
  assert.equal(readers, [], `read the typed field instead (lib/config-settings.ts): ${readers.join(', ')}`)
})

test('every source file starts with a comment line saying what it holds', () => {
  const dirs = ['lib', 'scripts', 'test', 'bench', 'examples'].filter((d) => fs.existsSync(path.join(ROOT, d)))
  const files = dirs.flatMap((d) =>
    fs
      .readdirSync(path.join(ROOT, d), { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.parentPath.includes('node_modules'))
      .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name))),
  )
  assert.ok(files.length > 100, `${files.length} files`)
  const bare = files.filter((f) => !/^(\/\/|\/\*|#!)/.test(read(f)))
  assert.equal(bare, [], `start these with a comment saying what they hold: ${bare.join(', ')}`)
})

test.run()

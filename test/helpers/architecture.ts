// The architecture checker: reads the import statements of lib/ and scripts/, gives every file its
// layer (docs/architecture.md), and finds upward edges, import cycles, long files and long functions.
import fs from 'node:fs'
import path from 'node:path'

export const LAYERS = ['core', 'model', 'render', 'adapter', 'operation', 'script'] as const
export type Layer = (typeof LAYERS)[number]

/**
 * Which layer a file is in: scripts/ are scripts, lib/pipeline/ operations, lib/stores/ adapters;
 * the flat files of lib/ and lib/health/ are named in the table (docs/architecture.md shows it).
 */
export const LAYER_OF: Record<string, Layer> = {
  // core: the base every layer may use (errors, config, printing, flags, files, the lock, the process gateway)
  'lib/errors.ts': 'core',
  'lib/fsutil.ts': 'core',
  'lib/envfile.ts': 'core',
  'lib/fault.ts': 'core',
  'lib/who.ts': 'core',
  'lib/ui.ts': 'core',
  'lib/prompt.ts': 'core',
  'lib/cli.ts': 'core',
  'lib/gateway.ts': 'core',
  'lib/gateway-settings.ts': 'core',
  'lib/lock.ts': 'core',
  'lib/paths.ts': 'core',
  'lib/config.ts': 'core',
  'lib/config-schema.ts': 'core',
  'lib/config-secrets.ts': 'core',
  'lib/config-settings.ts': 'core',
  'lib/multihost-settings.ts': 'core',
  'lib/config-health.ts': 'core',
  'lib/config-tls.ts': 'core',
  'lib/config-registry.ts': 'core',
  'lib/command.ts': 'core',
  'lib/timeline.ts': 'core',
  'lib/dates.ts': 'core',
  'lib/audit-rotate.ts': 'core',
  'lib/day2/settings.ts': 'core',
  'lib/images/ref.ts': 'core',
  'lib/hosts.ts': 'core',
  // model: the words of the domain
  'lib/model.ts': 'model',
  'lib/health/model.ts': 'model',
  'lib/manifest/types.ts': 'model',
  'lib/db-recipe.ts': 'model',
  // render: pure builders from the model (compose.ts also holds the small runner of its argv)
  'lib/compose.ts': 'render',
  'lib/generated-compose.ts': 'render',
  'lib/nginx-render.ts': 'render',
  'lib/nginx-render-tls.ts': 'render',
  'lib/metrics.ts': 'render',
  'lib/health/thresholds.ts': 'render',
  'lib/health/evaluate.ts': 'render',
  'lib/health/evaluate-state.ts': 'render',
  'lib/multihost-health.ts': 'render',
  'lib/multihost-status.ts': 'adapter',
  'lib/multihost-upstreams.ts': 'adapter',
  'lib/health/render.ts': 'render',
  'lib/health/status-view.ts': 'render',
  'lib/health/probe-list.ts': 'render',
  'lib/traffic.ts': 'render',
  'lib/manifest/render-all.ts': 'render',
  'lib/manifest/render-compose.ts': 'render',
  'lib/manifest/render-monitoring.ts': 'render',
  'lib/manifest/render-nginx.ts': 'render',
  'lib/manifest/render-hosts.ts': 'render',
  // adapter: the code that touches the world (through the gateway for processes)
  'lib/probe.ts': 'adapter',
  'lib/redis-client.ts': 'adapter',
  'lib/platform.ts': 'adapter',
  'lib/nginx.ts': 'adapter',
  'lib/nginx-files.ts': 'adapter',
  'lib/db.ts': 'adapter',
  'lib/migrations.ts': 'adapter',
  'lib/core-stack.ts': 'adapter',
  'lib/runtime-dir.ts': 'adapter',
  'lib/db-restore.ts': 'adapter',
  'lib/probe-stores.ts': 'adapter',
  'lib/wait.ts': 'adapter',
  'lib/readiness.ts': 'adapter',
  'lib/manifest/smoke-checks.ts': 'adapter',
  'lib/ssh.ts': 'adapter',
  'lib/docker-daemon.ts': 'adapter',
  'lib/host.ts': 'adapter',
  'lib/certs.ts': 'adapter',
  'lib/certs-apply.ts': 'adapter',
  'lib/acme.ts': 'adapter',
  'lib/hooks.ts': 'adapter',
  'lib/notify.ts': 'adapter',
  'lib/webhook.ts': 'adapter',
  'lib/smoke.ts': 'adapter',
  'lib/state.ts': 'adapter',
  'lib/audit.ts': 'adapter',
  'lib/deploy-metrics.ts': 'adapter',
  'lib/health/facts.ts': 'adapter',
  'lib/health/alerts.ts': 'adapter',
  // operation: the use cases, written against ports
  'lib/bluegreen.ts': 'operation',
  'lib/bootstrap-plan.ts': 'operation',
  'lib/adopt.ts': 'operation',
  'lib/create.ts': 'operation',
  'lib/retire.ts': 'operation',
  'lib/multihost.ts': 'operation',
  'lib/multihost-platform.ts': 'operation',
  'lib/multihost-checks.ts': 'operation',
  'lib/multihost-drain.ts': 'operation',
  'lib/multihost-balancer.ts': 'operation',
  'lib/switch.ts': 'operation',
  'lib/switch-steps.ts': 'operation',
  'lib/watch.ts': 'operation',
  'lib/slot-checks.ts': 'operation',
  'lib/health/gather-status.ts': 'operation',
  'lib/health/sources.ts': 'operation',
  'lib/health/checks-host.ts': 'operation',
  'lib/health/checks-service.ts': 'operation',
  'lib/rollback.ts': 'operation',
  'lib/safety.ts': 'operation',
  'lib/certs-op.ts': 'operation',
  'lib/operation.ts': 'operation',
  'lib/script-env.ts': 'operation',
  'lib/health/run.ts': 'operation',
  'lib/health/cycle.ts': 'operation',
}

const FOLDER_LAYER: Array<[string, Layer]> = [
  ['scripts/', 'script'],
  ['lib/pipeline/', 'operation'],
  ['lib/stores/', 'adapter'],
  ['lib/manifest/', 'model'],
  ['lib/images/', 'adapter'],
  ['lib/backup/', 'operation'],
  ['lib/day2/', 'operation'],
]

export function layerOf(file: string, table: Record<string, Layer> = LAYER_OF): Layer | undefined {
  return table[file] ?? FOLDER_LAYER.find(([dir]) => file.startsWith(dir))?.[1]
}

/** The local modules a source imports or re-exports (type-only imports count: they are edges of the design too). */
export function parseImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const out: string[] = []
  const re = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/g
  for (const m of code.matchAll(re)) out.push(m[1]!)
  const dynamic = /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g
  for (const m of code.matchAll(dynamic)) out.push(m[1]!)
  return out
}

export type Graph = Map<string, string[]>

/** file (relative to root) -> the files it imports (relative to root). */
export function importGraph(root: string, dirs: readonly string[]): Graph {
  const graph: Graph = new Map()
  for (const dir of dirs) {
    for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue
      const abs = path.join(e.parentPath, e.name)
      const file = path.relative(root, abs)
      const deps = parseImports(fs.readFileSync(abs, 'utf8')).map((spec) =>
        path.relative(root, path.resolve(path.dirname(abs), spec)),
      )
      graph.set(file, deps)
    }
  }
  return graph
}

/** Every edge that points up the layers ("a.ts (adapter) imports b.ts (operation)"), and files without a layer. */
export function upwardEdges(graph: Graph, layer: (file: string) => Layer | undefined = (f) => layerOf(f)): string[] {
  const problems: string[] = []
  const rank = (l: Layer) => LAYERS.indexOf(l)
  for (const [file, deps] of graph) {
    const from = layer(file)
    if (!from) {
      problems.push(`${file} has no layer (add it to LAYER_OF and to docs/architecture.md)`)
      continue
    }
    for (const dep of deps) {
      const to = layer(dep)
      if (to && rank(to) > rank(from)) problems.push(`${file} (${from}) imports ${dep} (${to})`)
    }
  }
  return problems
}

/** Every import cycle, each once, as "a.ts -> b.ts -> a.ts" (only files of the graph count). */
export function cycles(graph: Graph): string[] {
  const found = new Set<string>()
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (f: string) => {
    state.set(f, 'open')
    stack.push(f)
    for (const d of graph.get(f) ?? []) {
      if (!graph.has(d)) continue
      if (state.get(d) === 'open') {
        const loop = stack.slice(stack.indexOf(d))
        // one name per cycle: start it at its smallest file
        const i = loop.indexOf([...loop].sort()[0]!)
        const canon = [...loop.slice(i), ...loop.slice(0, i)]
        found.add([...canon, canon[0]].join(' -> '))
      } else if (!state.has(d)) visit(d)
    }
    stack.pop()
    state.set(f, 'done')
  }
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f)
  return [...found].sort()
}

/**
 * Functions longer than `max` lines: a declaration, a const arrow or a method starts one, and it
 * ends at the line that closes its brace at the same indentation.
 */
export function longFunctions(text: string, max: number): Array<{ name: string; lines: number }> {
  const lines = text.split('\n')
  const start =
    /^(\s*)(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\s*\*?\s*(\w+)|(?:const|let)\s+(\w+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:\([^)]*\)|\w+)\s*(?::[^=]+)?=>\s*\{|(?:(?:public|private|static|async)\s+)*(\w+)\s*\([^)]*\)\s*(?::[^{]+)?\{\s*$)/
  const out: Array<{ name: string; lines: number }> = []
  for (let i = 0; i < lines.length; i++) {
    const m = start.exec(lines[i]!)
    if (!m) continue
    const name = m[2] ?? m[3] ?? m[4]!
    if (['if', 'for', 'while', 'switch', 'catch', 'return'].includes(name)) continue
    const indent = m[1]!
    let end = i
    // the body ends at the first line that closes a brace at the function's indentation (not "} {",
    // the end of a multi-line return type)
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j]!
      if (l.startsWith(`${indent}}`) && !l.trimEnd().endsWith('{')) {
        end = j
        break
      }
    }
    if (end > i && end - i + 1 > max) out.push({ name, lines: end - i + 1 })
  }
  return out
}

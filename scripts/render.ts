#!/usr/bin/env -S npx zx
// Validate an app's manifest and print the files the toolkit generates from it (compose, nginx, Prometheus,
// health probes), or the manifest's JSON Schema. Changes nothing.
import { runScript, type ScriptSpec } from '../lib/cli.ts'
import { UsageError } from '../lib/errors.ts'
import { loadManifest } from '../lib/manifest/load.ts'
import { renderAll } from '../lib/manifest/render-all.ts'
import { schemaText } from '../lib/manifest/schema.ts'
import { checkNetPrefix } from '../lib/nginx-render.ts'
import { VERSION_RE } from '../lib/model.ts'

const spec: ScriptSpec = {
  name: 'render',
  summary: 'Check an app manifest and print the compose, nginx, Prometheus and probe files generated from it.',
  description:
    'Reads <dir>/app.yaml (or the file named by --app), reports every problem with file:line:col (exit 2),\n' +
    'and prints the generated files, each after a "==> name <==" line. Changes nothing.',
  flags: {
    app: { type: 'string', value: '<dir|file>', default: 'examples/dms', description: 'the app manifest' },
    version: { type: 'string', value: '<tag>', default: 'VERSION', description: 'the release version (image tag)' },
    'net-prefix': { type: 'string', value: '<a.b.c>', default: '172.29.10', description: "the stack's /24" },
    file: { type: 'string', value: '<name>', description: 'print only this generated file' },
    check: { type: 'boolean', description: 'only check the manifest' },
    schema: { type: 'boolean', description: "print the manifest's JSON Schema (docs/manifest.schema.json)" },
  },
  examples: [
    'npx zx scripts/render.ts --app examples/dms',
    'npx zx scripts/render.ts --app examples/pyshop --file nginx/app-locations.conf',
    'npx zx scripts/render.ts --app ./app.yaml --check',
  ],
}

await runScript(spec, async ({ flags, common, ui }) => {
  if (flags.schema) {
    process.stdout.write(schemaText())
    return
  }
  const version = String(flags.version)
  if (!VERSION_RE.test(version))
    throw new UsageError(
      `Can't render: --version ${JSON.stringify(version)} is not an image tag`,
      'Pass e.g. --version v1.2.',
    )
  let netPrefix: string
  try {
    netPrefix = checkNetPrefix(String(flags['net-prefix']), '--net-prefix')
  } catch (err) {
    throw new UsageError(`Can't render: ${(err as Error).message}`, 'Pass three octets, e.g. --net-prefix 172.29.10.')
  }
  const manifest = loadManifest(String(flags.app), { target: common.target })
  if (flags.check) {
    if (common.json) ui.result({ ok: true, file: manifest.file, name: manifest.name })
    else ui.success(`${manifest.file}: ok (${manifest.services.length} services, ${manifest.routes.length} routes)`)
    return
  }
  const files = renderAll(manifest, { netPrefix, version })
  const wanted = flags.file === undefined ? Object.keys(files) : [String(flags.file)]
  for (const name of wanted)
    if (files[name] === undefined)
      throw new UsageError(
        `Can't render ${name}: no such generated file`,
        `Pass one of: ${Object.keys(files).join(', ')}.`,
      )
  if (common.json) ui.result({ app: manifest.name, files: Object.fromEntries(wanted.map((n) => [n, files[n]])) })
  else for (const name of wanted) process.stdout.write(`==> ${name} <==\n${files[name]}\n`)
})

// scripts/render.ts as users run it: a valid manifest prints its files (exit 0), a manifest with twelve
// mistakes prints twelve located lines (exit 2) and writes nothing, --schema prints the published schema.
import fs from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTs, ROOT } from '../helpers/run.ts'

test('render --check: the DMS example is ok', async () => {
  const r = await runTs('scripts/render.ts', ['--app', 'examples/dms', '--check'])
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout + r.stderr, /app\.yaml: ok \(4 services, 5 routes\)/)
})

test('render: twelve mistakes, twelve located lines on stderr, exit 2, no file written', async () => {
  const before = fs.readdirSync(`${ROOT}/test/fixtures/manifests`)
  const r = await runTs('scripts/render.ts', ['--app', 'test/fixtures/manifests/twelve-mistakes.yaml'])
  assert.is(r.code, 2, r.stderr)
  assert.is(r.stdout, '')
  const located = r.stderr.split('\n').filter((l) => /twelve-mistakes\.yaml:\d+:\d+: /.test(l))
  assert.is(located.length, 12, r.stderr)
  assert.match(r.stderr, /12 problems/)
  assert.equal(fs.readdirSync(`${ROOT}/test/fixtures/manifests`), before)
})

test('render --json --file: one generated file as a JSON document', async () => {
  const r = await runTs('scripts/render.ts', ['--app', 'examples/dms', '--json', '--file', 'nginx/upstreams.conf'])
  assert.is(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.equal(Object.keys(doc.files), ['nginx/upstreams.conf'])
  assert.match(doc.files['nginx/upstreams.conf'], 'upstream api_green {\n    server 172.29.10.22:8080')
})

test('render --file with an unknown name and a bad --version are refused with exit 2', async () => {
  const r = await runTs('scripts/render.ts', ['--app', 'examples/dms', '--file', 'nope.conf'])
  assert.is(r.code, 2)
  assert.match(r.stderr, /Can't render nope\.conf: no such generated file/)
  const v = await runTs('scripts/render.ts', ['--app', 'examples/dms', '--version', '../x'])
  assert.is(v.code, 2)
  assert.match(v.stderr, /is not an image tag/)
})

test('render --schema prints docs/manifest.schema.json', async () => {
  const r = await runTs('scripts/render.ts', ['--schema'])
  assert.is(r.code, 0)
  assert.fixture(r.stdout, fs.readFileSync(`${ROOT}/docs/manifest.schema.json`, 'utf8'))
})

test.run()

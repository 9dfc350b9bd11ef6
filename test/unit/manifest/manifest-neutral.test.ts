// Nothing in lib/ may name the sample app's services, paths or tables: they come from the manifest. The
// manifest code is checked whole; the older files that still name them (until the scripts read the manifest,
// issue #14) are listed, and the list may only shrink: a new file naming them fails.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT } from '../../helpers/run.ts'

/** the sample's service names, route prefixes and table, as they would appear in code */
const DMS_NAMES = [
  /\bfrontend\b/,
  /['"`]docs['"`]/,
  /['"`]main['"`]/,
  /\bdocuments\b/,
  /\/api\/auth/,
  /['"`]\/app['"`/]/,
  /\bdocument_tags\b/,
]

/** files that named them before the manifest existed; remove a file here once it reads the manifest */
const LEGACY: string[] = []

function files(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? files(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : []))
}

const naming = (file: string) => {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8')
  return DMS_NAMES.filter((re) => re.test(text)).map(String)
}

test('the grep finds the sample names where they are (it can fail)', () => {
  // the DMS example's manifest names them by design
  assert.ok(naming('examples/dms/app.yaml').length > 0)
  assert.ok(naming('examples/dms/app.yaml').includes(String(/\bfrontend\b/)))
})

test('lib/manifest/ and scripts/render.ts name no service, path or table of the sample', () => {
  for (const f of [...files('lib/manifest'), 'scripts/render.ts']) assert.equal(naming(f), [], f)
})

test('no file of lib/ outside the legacy list names them, and every listed file still does (the list only shrinks)', () => {
  const offenders = files('lib').filter((f) => naming(f).length > 0)
  assert.equal(
    offenders.filter((f) => !LEGACY.includes(f)),
    [],
  )
  assert.equal(
    LEGACY.filter((f) => !offenders.includes(f)),
    [],
    'a listed file no longer names them: remove it from LEGACY',
  )
})

test.run()

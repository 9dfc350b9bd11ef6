// Nothing in lib/ names the DMS example's services, paths, tables, image or migration script (issue #14):
// they come from the manifest. KNOWN lists what is still there, by file; it may only shrink to empty.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { findDmsNames } from '../helpers/dms-names.ts'
import { ROOT, removeOnExit } from '../helpers/run.ts'

/** What lib/ still names, with its count: remove an entry when its file stops naming it. */
const KNOWN: Record<string, number> = {}

/** The differences between what is found and KNOWN, as lines a person can act on. */
function differences(found: Record<string, number>, known: Record<string, number>): string[] {
  const out: string[] = []
  for (const [k, n] of Object.entries(found))
    if (n > (known[k] ?? 0)) out.push(`${k}: ${n} (known ${known[k] ?? 0}): take it from the manifest (config.app)`)
  for (const [k, n] of Object.entries(known))
    if ((found[k] ?? 0) < n) out.push(`${k}: ${found[k] ?? 0} (known ${n}): lower or remove its entry in KNOWN`)
  return out
}

test('lib/ names no DMS service, path, table, image or script beyond KNOWN, and KNOWN is not stale', () => {
  assert.equal(differences(findDmsNames(ROOT, 'lib'), KNOWN), [])
})

test('a planted name is found (the check can fail): a new file naming the frontend and the documents table', () => {
  const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-names-')))
  fs.mkdirSync(path.join(dir, 'lib'))
  fs.writeFileSync(
    path.join(dir, 'lib/new.ts'),
    "const url = '/docs/ready'\nconst who = ['frontend']\nconst sql = 'SELECT * FROM documents'\n",
  )
  fs.writeFileSync(path.join(dir, 'lib/clean.ts'), "// docs/architecture.md\nconst s = 'api'\n")
  const found = findDmsNames(dir, 'lib')
  assert.equal(found, {
    'lib/new.ts: service docs': 1,
    'lib/new.ts: service frontend': 1,
    'lib/new.ts: table documents': 1,
  })
  assert.equal(differences(found, {}).length, 3)
  assert.equal(differences({}, { 'lib/gone.ts: service docs': 1 }), [
    'lib/gone.ts: service docs: 0 (known 1): lower or remove its entry in KNOWN',
  ])
})

test.run()

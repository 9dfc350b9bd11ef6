// The README's manifest reference names every key of the manifest's shape, and its example manifest is valid.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { manifestProblems } from '../../../lib/manifest/load.ts'
import { MANIFEST, type Shape } from '../../../lib/manifest/shape.ts'
import { ROOT } from '../../helpers/run.ts'

const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const reference = readme.slice(readme.indexOf('### Manifest reference'), readme.indexOf('## Layout'))

/** every leaf key of a shape as the reference writes it: services.<name>.port, routes[].path */
function keys(s: Shape, at: string): string[] {
  if (s.kind === 'object')
    return Object.entries(s.props).flatMap(([k, p]) => {
      const here = at ? `${at}.${k}` : k
      const below = keys(p.shape, here)
      return below.length ? below : [here]
    })
  if (s.kind === 'map' && (s.values.kind === 'object' || s.values.kind === 'map')) return keys(s.values, `${at}.<name>`)
  if (s.kind === 'array' && s.items.kind === 'object') return keys(s.items, `${at}[]`)
  return []
}

test('the README reference names every key of the manifest (targets as a whole)', () => {
  const all = keys(MANIFEST, '').filter((k) => !k.startsWith('targets.'))
  assert.ok(all.length > 40, `only ${all.length} keys found`)
  const missing = all.filter(
    (k) => !reference.includes(`\`${k}\``) && !reference.includes(`\`${k.replace(/\.[a-z_]+$/, '')}\``),
  )
  assert.equal(missing, [])
  assert.ok(reference.includes('`targets.staging`'))
})

test("the README's example manifest is valid", () => {
  const start = readme.indexOf('```yaml\n   name: shop')
  assert.ok(start > 0, 'the example is in the README')
  const block = readme.slice(start + 8, readme.indexOf('```', start + 8))
  const text = block
    .split('\n')
    .map((l) => l.slice(3))
    .join('\n')
  assert.equal(manifestProblems(text, 'readme.yaml'), [])
})

test.run()

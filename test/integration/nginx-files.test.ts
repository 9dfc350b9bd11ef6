// The nginx include sets on disk as whole processes: starting from the flat files of the old
// layout, a change is killed (SIGKILL) at every occurrence of every step; after each kill every
// include name reads as one complete set (all old or all new, never a mix), and the next run
// finishes the job and leaves no leftovers. (That nginx accepts the live set after each kill is
// shown against the real nginx in test/e2e/files.test.ts.)
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderNginxIncludes } from '../../lib/nginx-render.ts'
import { writeNginxIncludes } from '../../lib/runtime-dir.ts'
import { runTs } from '../helpers/run.ts'

const settings = (allow: string) => ({
  netPrefix: '172.29.42',
  listenAddr: '127.0.0.1',
  httpsPort: 27443,
  httpPort: 27080,
  previewPort: 27444,
  statusPort: 27090,
  statusAllow: [allow],
})
const OLD = renderNginxIncludes(settings('127.0.0.1/32'))
const NEW = renderNginxIncludes(settings('10.9.0.0/16'))

function liveSet(dir: string): 'old' | 'new' {
  const now = Object.fromEntries(Object.keys(OLD).map((n) => [n, fs.readFileSync(path.join(dir, n), 'utf8')]))
  if (Object.entries(OLD).every(([n, text]) => now[n] === text)) return 'old'
  if (Object.entries(NEW).every(([n, text]) => now[n] === text)) return 'new'
  throw new Error(`a mix of two sets: ${JSON.stringify(now['status-allow.conf'])}`)
}

test('from the old flat layout, a change killed at every step: always one complete set, then finished by the next run', async () => {
  const results: string[] = []
  for (const point of ['nginx.staging', 'nginx.staged', 'nginx.link-made', 'nginx.swapped']) {
    for (let n = 1; ; n++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-nginx-sets-'))
      for (const [name, text] of Object.entries(OLD)) fs.writeFileSync(path.join(dir, name), text)
      const r = await runTs('test/fixtures/nginx-write.ts', [dir, '10.9.0.0/16'], {
        env: { DMS_FAULT: `${point}=kill@${n}` },
      })
      if (r.signal !== 'SIGKILL') {
        assert.is(r.code, 0, r.stderr)
        assert.is(liveSet(dir), 'new')
        fs.rmSync(dir, { recursive: true, force: true })
        assert.ok(n > 1, `${point} was reached`)
        break
      }
      results.push(`${point}@${n}: ${liveSet(dir)}`)
      writeNginxIncludes(dir, settings('10.9.0.0/16')) // the next run, in this process
      assert.is(liveSet(dir), 'new', `${point}@${n}: the next run finishes the change`)
      assert.equal(
        fs.readdirSync(path.join(dir, 'sets')),
        [path.basename(fs.readlinkSync(path.join(dir, 'current')))],
        `${point}@${n}: one set left`,
      )
      for (const name of Object.keys(OLD)) assert.is(fs.readlinkSync(path.join(dir, name)), `current/${name}`)
      assert.equal(
        fs.readdirSync(dir).filter((e) => e.startsWith('.')),
        [],
        `${point}@${n}: no half-made link left`,
      )
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  // per include file: staged for the adoption and for the change; links: 1 + one per file
  // (adoption) and 1 (the change); 2 sets staged, 2 swaps
  const files = Object.keys(OLD).length
  assert.is(results.length, 2 * files + 2 + (files + 2) + 2, results.join('\n'))
  assert.ok(results.some((r) => r.endsWith('old')) && results.some((r) => r.endsWith('new')), results.join('\n'))
})

test.run()

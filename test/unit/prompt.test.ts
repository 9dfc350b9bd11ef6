// Unit tests of the confirmation (lib/prompt.ts): --yes and no-terminal answers never load the prompts
// package (start-up: it is loaded only when a person is really asked).
import { createRequire } from 'node:module'
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RefusedError } from '../../lib/errors.ts'
import { confirm } from '../../lib/prompt.ts'
import { Printer } from '../../lib/ui.ts'

const require = createRequire(import.meta.url)
const promptsLoaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/prompts/'))
const sink = new Writable({ write: (_c, _e, cb) => cb() })
const ui = new Printer({ out: sink, err: sink, env: {} })

test('--yes confirms without loading prompts', async () => {
  assert.is(await confirm('switch to green', { yes: true, ui }), true)
  assert.not.ok(promptsLoaded(), 'prompts is not loaded')
})

test('no terminal and no --yes: refused at once, naming --yes, without loading prompts', async () => {
  try {
    await confirm('switch to green', { ui, stdin: { isTTY: false } })
    assert.unreachable('refused')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /Can't switch to green: confirmation is needed/)
    assert.match((e as RefusedError).hint ?? '', /--yes/)
  }
  assert.not.ok(promptsLoaded(), 'prompts is not loaded')
})

test.run()

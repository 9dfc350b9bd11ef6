// The printer: secret masking on every output path, --json, --quiet, colour only on a TTY.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Printer, SecretMask } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'

const SECRET = 'S3cr3t-Value_xyz123'

test('SecretMask hides raw, JSON-escaped and URL-encoded forms, longest first', () => {
  const m = new SecretMask()
  m.add(['pa"ss/word+1', 'abc', undefined, 'pa"ss/word+1-longer'])
  assert.is(m.apply('x pa"ss/word+1-longer y'), 'x **** y')
  assert.is(m.apply(JSON.stringify({ p: 'pa"ss/word+1' })), '{"p":"****"}')
  assert.is(m.apply(`u=${encodeURIComponent('pa"ss/word+1')}`), 'u=****')
  assert.is(m.apply('abc stays: too short to be a secret'), 'abc stays: too short to be a secret')
})

test('every output path masks secrets: info, warn, error, detail, step, table, result', async () => {
  for (const json of [false, true]) {
    const out = memoryStream()
    const err = memoryStream()
    const ui = new Printer({ out, err, json, verbose: true, secrets: [SECRET] })
    ui.info(`info ${SECRET}`)
    ui.success(`ok ${SECRET}`)
    ui.detail(`detail ${SECRET}`)
    ui.warn(`warn ${SECRET}`)
    ui.error(`error ${SECRET}`)
    await ui.step(`step ${SECRET}`, async () => 1)
    ui.table(['k', 'v'], [['pw', SECRET]])
    ui.result({ pw: SECRET, nested: [SECRET] })
    const all = out.text() + err.text()
    assert.not.ok(all.includes(SECRET), `secret leaked (json=${json}): ${all}`)
    assert.ok(all.includes('****'))
  }
})

test('--json: stdout is exactly one JSON document, progress goes to stderr', async () => {
  const out = memoryStream()
  const err = memoryStream()
  const ui = new Printer({ out, err, json: true })
  ui.info('progress')
  await ui.step('a step', async () => undefined)
  ui.result({ ok: true })
  assert.equal(JSON.parse(out.text()), { ok: true })
  assert.match(err.text(), /progress/)
  try {
    ui.result({ again: true })
    assert.unreachable('second document')
  } catch (e) {
    assert.match((e as Error).message, /exactly one/)
  }
})

test('--quiet prints only problems', async () => {
  const out = memoryStream()
  const err = memoryStream()
  const ui = new Printer({ out, err, quiet: true })
  ui.info('hello')
  ui.success('fine')
  await ui.step('step', async () => undefined)
  ui.warn('careful')
  ui.error('broken')
  assert.is(out.text(), '')
  assert.match(err.text(), /careful/)
  assert.match(err.text(), /broken/)
})

test('colour only on a TTY and never with NO_COLOR', () => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ANSI escape (ESC [) on purpose
  const esc = /\x1b\[/
  const run = (tty: boolean, env: NodeJS.ProcessEnv) => {
    const out = memoryStream(tty)
    new Printer({ out, err: memoryStream(tty), env }).success('x')
    return out.text()
  }
  assert.not.match(run(false, {}), esc)
  assert.not.match(run(true, { NO_COLOR: '' }), esc)
  assert.match(run(true, {}), esc)
})

test.run()

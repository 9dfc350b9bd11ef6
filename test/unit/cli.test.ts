// Flags and errors of every script: durations, typed flags, refusals with exit 2, --help, reportError.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseDuration, parseFlags, renderHelp, reportError, type ScriptSpec } from '../../lib/cli.ts'
import { EXIT, LockHeldError, UsageError } from '../../lib/errors.ts'
import { Printer } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'

const spec: ScriptSpec = {
  name: 'demo',
  summary: 'A demo script.',
  flags: {
    version: { type: 'string', value: '<tag>', description: 'release' },
    timeout: { type: 'duration', default: '120s', description: 'deadline' },
    count: { type: 'number', description: 'how many' },
  },
}

test('parseDuration reads units and plain seconds', () => {
  assert.is(parseDuration('30s'), 30_000)
  assert.is(parseDuration('20m'), 1_200_000)
  assert.is(parseDuration('1h'), 3_600_000)
  assert.is(parseDuration('500ms'), 500)
  assert.is(parseDuration('45'), 45_000)
  for (const bad of ['', 'abc', '10 s', '-5s', '1d', '9999999h', '$(reboot)']) {
    try {
      parseDuration(bad)
      assert.unreachable(`accepted ${bad}`)
    } catch (e) {
      assert.instance(e, UsageError)
      assert.is((e as UsageError).exitCode, 2)
    }
  }
})

test('parseFlags types values and fills the common flags', () => {
  const { flags, common } = parseFlags(spec, [
    '--version',
    'v1.2',
    '--timeout',
    '5s',
    '--count',
    '3',
    '--yes',
    '--json',
    '--target',
    'staging',
  ])
  assert.is(flags.version, 'v1.2')
  assert.is(flags.timeout, 5000)
  assert.is(flags.count, 3)
  assert.equal(common, {
    help: false,
    yes: true,
    dryRun: false,
    json: true,
    quiet: false,
    verbose: false,
    target: 'staging',
  })
  assert.is(parseFlags(spec, []).flags.timeout, 120_000)
  assert.is(parseFlags(spec, []).common.target, 'production')
})

test('parseFlags refuses unknown flags, positionals and bad numbers with exit 2', () => {
  for (const argv of [['--nope'], ['stray'], ['--count', 'x'], ['--count', ''], ['--timeout', 'soon'], ['--version']]) {
    try {
      parseFlags(spec, argv)
      assert.unreachable(`accepted ${argv.join(' ')}`)
    } catch (e) {
      assert.instance(e, UsageError, argv.join(' '))
      assert.match((e as Error).message, /^Can't read/)
      assert.is((e as UsageError).exitCode, EXIT.REFUSED)
    }
  }
})

test('help lists every flag, the common ones and the exit codes', () => {
  const help = renderHelp(spec)
  for (const f of [
    '--version <tag>',
    '--timeout',
    '--yes',
    '--dry-run',
    '--json',
    '--quiet',
    '--verbose',
    '--target',
    '--help',
  ])
    assert.ok(help.includes(f), f)
  assert.match(help, /130\s+interrupted/)
  assert.match(help, /3\s+another deploy holds the lock/)
})

test('reportError prints "Can\'t X: reason" and the hint, returns the exit code, stack only with --verbose', () => {
  const out = memoryStream()
  const err = memoryStream()
  const ui = new Printer({ out, err })
  const code = reportError(ui, new LockHeldError("Can't take the lock: held", {}, 'Wait for it.'))
  assert.is(code, 3)
  assert.match(err.text(), /Can't take the lock: held/)
  assert.match(err.text(), /Wait for it\./)
  assert.not.match(err.text(), /at .*\.ts:\d+/)
  const err2 = memoryStream()
  const code2 = reportError(new Printer({ out, err: err2, verbose: true }), new Error('boom'))
  assert.is(code2, 1)
  assert.match(err2.text(), /Can't continue: boom/)
  assert.match(err2.text(), /at /)
})

test('reportError in --json mode prints one JSON document with the error', () => {
  const out = memoryStream()
  const ui = new Printer({ out, err: memoryStream(), json: true })
  reportError(ui, new UsageError("Can't read --version: bad", 'Use letters.'))
  const doc = JSON.parse(out.text())
  assert.equal(doc, { ok: false, exitCode: 2, error: "Can't read --version: bad", hint: 'Use letters.' })
})

test.run()

// Bad input for every script and every flag that takes a value, as one table, against a
// running production stack (core + green live + nothing in blue): shell metacharacters, spaces,
// newlines, "..", absolute paths, unicode, empty and 10 KB values; malformed, invalid and
// missing env files; nginx template values that would break the config; a corrupt state file
// and a corrupt lock file. Each run must exit 2 (health-check: 3, UNKNOWN) with a short message
// naming the problem, and change nothing: containers, routing, state, lock, generated nginx
// includes, markers, secrets and metrics byte for byte; the audit log only gains refusals.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import type { RunResult } from '../helpers/run.ts'
import { buildImages, removeProjects } from './harness.ts'
import { assertUnchanged, mapLimit, worldSnapshot, type WorldSnapshot } from './security-helpers.ts'
import { liveMarker, script, toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-bad'
const t = toolkitTarget(PREFIX, '172.29.37', 24, { VERIFY_WINDOW: '1s', SWITCH_MAX_P95_MS: '5000' })
const TEN_KB = 'x'.repeat(10 * 1024)
/** argv can't carry NUL; everything else a person (or a script gone wrong) might pass. */
const HOSTILE = [
  '; rm -rf /',
  '$(id)',
  '`id`',
  'a b',
  'a\nb',
  '..',
  '../../etc/passwd',
  '/etc/passwd',
  'ünï-✓',
  '',
  TEN_KB,
  '-rf',
]
const HOSTILE_FILES = [
  '; rm -rf /',
  '$(id).prom',
  '`id`.prom',
  'a b.prom',
  'a\nb.prom',
  '..',
  '../../etc/passwd',
  '/etc/passwd',
  'ünï.prom',
  '',
  TEN_KB,
  '-rf',
]

type Kind = 'version' | 'slot' | 'duration' | 'target' | 'gradual' | 'number' | 'textfile'
/** full: the flag that gets every hostile value; the others get SHORT (the validators are shared and unit-tested in full). */
type ScriptTable = { base: string[]; code: number; full: string; flags: Record<string, Kind> }
const SHORT = ['; rm -rf /', 'a\nb', '../../etc/passwd', 'ünï-✓', TEN_KB]

const SCRIPTS: Record<string, ScriptTable> = {
  'create-green-environment': {
    base: ['--version', '1.0.0'],
    code: 2,
    full: 'version',
    flags: { version: 'version', slot: 'slot', timeout: 'duration', 'lock-wait': 'duration', target: 'target' },
  },
  'switch-to-green': {
    base: [],
    code: 2,
    full: 'slot',
    flags: {
      slot: 'slot',
      gradual: 'gradual',
      step: 'duration',
      verify: 'duration',
      'keep-previous': 'duration',
      'lock-wait': 'duration',
      target: 'target',
    },
  },
  'rollback-production': {
    base: [],
    code: 2,
    full: 'to',
    flags: { to: 'version', timeout: 'duration', 'lock-wait': 'duration', target: 'target' },
  },
  'deploy-production': {
    base: ['--version', '2.0.0'],
    code: 2,
    full: 'timeout',
    flags: {
      version: 'version',
      gradual: 'gradual',
      step: 'duration',
      verify: 'duration',
      timeout: 'duration',
      'lock-wait': 'duration',
      target: 'target',
    },
  },
  'deploy-staging': {
    base: ['--version', '1.0.0'],
    code: 2,
    full: 'target',
    flags: { version: 'version', timeout: 'duration', 'lock-wait': 'duration', target: 'target' },
  },
  'health-check': {
    base: [],
    code: 3,
    full: 'prometheus',
    flags: { timeout: 'duration', watch: 'duration', prometheus: 'textfile', target: 'target' },
  },
  status: { base: [], code: 2, full: 'audit', flags: { audit: 'number', target: 'target' } },
  bootstrap: { base: ['--check'], code: 2, full: 'target', flags: { target: 'target' } },
}

/** What the message must name for each kind of flag. */
function expected(kind: Kind, flag: string, scriptName: string): RegExp {
  if (kind === 'target')
    return scriptName === 'deploy-staging'
      ? /Can't deploy to .* with deploy-staging|--target/
      : /unknown target|--target/
  return new RegExp(`--${flag}\\b`)
}

type Case = {
  name: string
  script: string
  args: string[]
  env?: Record<string, string>
  code: number
  message: RegExp
}

function flagCases(): Case[] {
  const cases: Case[] = []
  for (const [name, s] of Object.entries(SCRIPTS)) {
    for (const [flag, kind] of Object.entries(s.flags)) {
      const values = kind === 'textfile' ? HOSTILE_FILES : flag === s.full ? HOSTILE : SHORT
      for (const value of values) {
        // the flag under test replaces the base argument of the same name
        const base = s.base[0] === `--${flag}` ? s.base.slice(2) : s.base
        cases.push({
          name: `${name} --${flag} ${JSON.stringify(value.slice(0, 20))}`,
          script: name,
          args: [...base, `--${flag}`, value],
          code: s.code,
          message: expected(kind, flag, name),
        })
      }
    }
    for (const stray of [['--no-such-flag'], ['$(id)'], ['--yes=no']]) {
      cases.push({
        name: `${name} ${stray.join(' ')}`,
        script: name,
        args: [...s.base, ...stray],
        code: s.code,
        message: /Can't read the command line/,
      })
    }
  }
  return cases
}

const tempDirs: string[] = [t.paths.varDir, t.env.DMS_ENV_DIR!]

function envDir(files: Record<string, string>, mode = 0o600): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-env-`))
  tempDirs.push(dir)
  for (const f of ['.env.production', '.env.staging', '.env.production.local'])
    fs.copyFileSync(path.join(t.env.DMS_ENV_DIR!, f), path.join(dir, f))
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text)
  fs.chmodSync(path.join(dir, '.env.production.local'), mode)
  return dir
}

function envCases(): Case[] {
  const committed = (f: string) => fs.readFileSync(path.join(t.env.DMS_ENV_DIR!, f), 'utf8')
  const both = (extra: string) => ({
    '.env.production': committed('.env.production') + extra,
    '.env.staging': committed('.env.staging') + extra,
  })
  const missing = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-env-missing-`))
  tempDirs.push(missing)
  const variants: Array<[string, Record<string, string>, RegExp, boolean]> = [
    [
      'malformed line',
      { DMS_ENV_DIR: envDir(both('this is not an assignment\n')) },
      /\.env\.\w+:\d+: "this is not an assignment" is not KEY=VALUE/,
      true,
    ],
    [
      'unclosed quote',
      { DMS_ENV_DIR: envDir(both('KEEP_PREVIOUS="30m\n')) },
      /KEEP_PREVIOUS: the quoted value is not closed/,
      true,
    ],
    [
      'shell in a value',
      { DMS_ENV_DIR: envDir(both('KEEP_PREVIOUS=$(reboot)\n')) },
      /KEEP_PREVIOUS=.* is not valid/,
      true,
    ],
    [
      '10 KB value',
      { DMS_ENV_DIR: envDir(both(`DEPLOY_TIMEOUT=${TEN_KB}\n`)) },
      /DEPLOY_TIMEOUT=.* is not valid/,
      true,
    ],
    ['unicode key', { DMS_ENV_DIR: envDir(both('ÜBER=1\n')) }, /"ÜBER" is not a valid name/, true],
    ['missing env file', { DMS_ENV_DIR: missing }, /can't read it \(ENOENT\)/, true],
    [
      'LISTEN_ADDR with nginx syntax',
      { LISTEN_ADDR: '127.0.0.1:1 ssl; include /etc/passwd' },
      /LISTEN_ADDR=.* is not valid/,
      true,
    ],
    [
      'STATUS_ALLOW with nginx syntax',
      { STATUS_ALLOW: '127.0.0.1/32; allow all' },
      /STATUS_ALLOW=.* is not valid/,
      true,
    ],
    ['NET_PREFIX with nginx syntax', { NET_PREFIX: '172.29.37;}' }, /NET_PREFIX=.* is not valid/, true],
    ['HTTPS_PORT out of range', { HTTPS_PORT: '70000' }, /HTTPS_PORT=.* is not valid/, true],
    // staging only warns about a readable .local file, so deploy-staging is not run with it
    ['.local readable by others', { DMS_ENV_DIR: envDir({}, 0o644) }, /must be 0600/, false],
  ]
  const core = new Set([
    'malformed line',
    'shell in a value',
    'missing env file',
    'LISTEN_ADDR with nginx syntax',
    '.local readable by others',
  ])
  const cases: Case[] = []
  for (const [name, s] of Object.entries(SCRIPTS)) {
    for (const [what, env, message, staging] of variants) {
      if (name === 'deploy-staging' && !staging) continue
      if (!core.has(what) && name !== 'switch-to-green' && name !== 'health-check') continue
      cases.push({ name: `${name}: ${what}`, script: name, args: s.base, env, code: s.code, message })
    }
  }
  return cases
}

let start: WorldSnapshot
const timings: number[] = []

async function runCase(c: Case): Promise<RunResult> {
  const r = await script(t, c.script, c.args, c.env ?? {}, 60_000)
  timings.push(r.ms)
  const out = r.stdout + r.stderr
  const context = `${c.name}: exit ${r.code}\n${out.slice(0, 1500)}`
  assert.is(r.code, c.code, context)
  assert.match(r.stderr, c.message, `${c.name}: the message names the problem\n${out.slice(0, 1500)}`)
  assert.match(r.stderr, /Can't /, context)
  assert.not.match(out, /looks like a bug|at .*\.ts:\d+/, `${c.name}: no stack or "bug" report\n${out.slice(0, 1500)}`)
  assert.ok(out.length < 3000, `${c.name}: a short answer (${out.length} characters)`)
  assert.not.ok(out.includes(TEN_KB.slice(0, 100)), `${c.name}: the 10 KB value is not echoed`)
  return r
}

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0'])
  await upCore(t)
  const create = await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes'])
  assert.is(create.code, 0, create.stdout + create.stderr)
  const sw = await script(t, 'switch-to-green', ['--yes'])
  assert.is(sw.code, 0, sw.stdout + sw.stderr)
  assert.is(liveMarker(t), 'green')
  start = await worldSnapshot(t)
  assert.match(start.markers, /^200 green 1\.0\.0$/)
  assert.ok(start.containers.split('\n').length >= 7, start.containers)
})

test.after(async () => {
  await removeProjects(PREFIX)
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

test('--help of every script exits 0 and lists its flags', async () => {
  await mapLimit(Object.entries(SCRIPTS), 4, async ([name, s]) => {
    const r = await script(t, name, ['--help'])
    assert.is(r.code, 0, `${name} --help: ${r.stderr}`)
    for (const flag of [...Object.keys(s.flags), 'help', 'yes', 'dry-run', 'json', 'quiet', 'verbose', 'target'])
      assert.match(r.stdout, new RegExp(`--${flag}\\b`), `${name} --help lists --${flag}`)
    assert.match(r.stdout, /Exit codes:/)
  })
})

test('every flag of every script refuses hostile values with a clear message, and nothing changes', async () => {
  const cases = flagCases()
  const byScript = new Map<string, Case[]>()
  for (const c of cases) byScript.set(c.script, [...(byScript.get(c.script) ?? []), c])
  for (const [name, list] of byScript) {
    await mapLimit(list, 3, async (c) => {
      await runCase(c)
      await assertUnchanged(t, start, c.name, false)
    })
    await assertUnchanged(t, start, `after the flags of ${name}`)
  }
  console.log(
    `  ${cases.length} flag cases, ${byScript.size} scripts, median run ${timings.sort((a, b) => a - b)[timings.length >> 1]} ms`,
  )
})

test('malformed, invalid and missing env files, and nginx template values, are refused by every script', async () => {
  const cases = envCases()
  await mapLimit(cases, 3, async (c) => {
    await runCase(c)
    await assertUnchanged(t, start, c.name, false)
  })
  await assertUnchanged(t, start, 'after the env file cases')
  console.log(`  ${cases.length} env cases`)
})

test('a corrupt state file is reported, never replaced; a corrupt lock file is refused naming --force-unlock', async () => {
  const changing: Array<[string, string[]]> = [
    ['create-green-environment', ['--version', '1.0.0', '--replace']],
    ['switch-to-green', []],
    ['rollback-production', []],
    ['deploy-production', ['--version', '2.0.0']],
  ]
  const good = fs.readFileSync(t.paths.state)
  const goodBak = fs.existsSync(`${t.paths.state}.bak`) ? fs.readFileSync(`${t.paths.state}.bak`) : null
  try {
    for (const garbage of [
      '{"schema":1,"target":"production","live":"purple"',
      '{"schema":1,"target":"staging","live":null,"slots":{},"releases":[],"history":[]}',
    ]) {
      fs.writeFileSync(t.paths.state, garbage)
      const before = await worldSnapshot(t)
      for (const [name, args] of [...changing, ['status', []] as [string, string[]]]) {
        await runCase({
          name: `${name} with state ${JSON.stringify(garbage.slice(0, 20))}`,
          script: name,
          args,
          code: 2,
          message: /state file .* (not valid JSON|not a state file|belongs to target|"live" is)/,
        })
      }
      await assertUnchanged(t, before, `corrupt state ${JSON.stringify(garbage.slice(0, 20))}`)
      assert.is(fs.readFileSync(t.paths.state, 'latin1'), garbage, 'the corrupt file is left for a person to inspect')
    }
  } finally {
    fs.writeFileSync(t.paths.state, good)
  }
  assert.equal(
    goodBak === null ? null : fs.readFileSync(`${t.paths.state}.bak`),
    goodBak,
    'the last good copy (.bak) is untouched',
  )

  try {
    for (const garbage of ['{"pid":"x"}', TEN_KB]) {
      fs.writeFileSync(t.paths.lock, garbage)
      const before = await worldSnapshot(t)
      for (const [name, args] of changing) {
        await runCase({
          name: `${name} with lock ${JSON.stringify(garbage.slice(0, 20))}`,
          script: name,
          args,
          code: 2,
          message: /is not a lock file[\s\S]*--force-unlock/,
        })
      }
      await assertUnchanged(t, before, `corrupt lock ${JSON.stringify(garbage.slice(0, 20))}`)
    }
  } finally {
    fs.rmSync(t.paths.lock, { force: true })
  }
  await assertUnchanged(t, start, 'after the state and lock cases')
})

/** The "nothing changed" check itself can fail: it notices a file, an audit entry, a container and routing. */
test('the nothing-changed check notices each kind of change', async () => {
  const noticed = async (what: string, re: RegExp, change: () => unknown, undo: () => unknown, deep = false) => {
    await change()
    let message = ''
    try {
      await assertUnchanged(t, start, what, deep)
    } catch (e) {
      message = (e as Error).message
    } finally {
      await undo()
    }
    assert.match(message, re, `${what} was noticed`)
  }
  const probe = path.join(t.paths.metrics, 'probe.prom')
  await noticed(
    'a new file',
    /metrics\/probe\.prom changed/,
    () => fs.writeFileSync(probe, 'x'),
    () => fs.rmSync(probe),
  )
  const green = path.join(t.paths.live, 'green')
  const marker = fs.readFileSync(green)
  await noticed(
    'a marker',
    /live\/green changed|routing changed/,
    () => fs.rmSync(green),
    () => fs.writeFileSync(green, marker),
    true,
  )
  const api = `${PREFIX}-prod-green-api-1`
  await noticed(
    'a paused container',
    /containers changed/,
    () => $({ quiet: true })`docker pause ${api}`,
    () => $({ quiet: true })`docker unpause ${api}`,
    true,
  )
  // last: the audit log only grows, so this line stays
  await noticed(
    'an audit entry that is not a refusal',
    /not a refusal/,
    () =>
      fs.appendFileSync(
        t.paths.audit,
        `${JSON.stringify({ user: 'x', host: 'y', action: 'switch', outcome: 'succeeded' })}\n`,
      ),
    () => undefined,
  )
})

test.run()

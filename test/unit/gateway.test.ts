// The gateway's pure parts: dry-run and the recorded call list, the fail-fast after a missed
// deadline, the parent watch of lib/cli.ts; and a scan of lib/ and scripts/ that fails on any
// process start outside lib/gateway.ts.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runtimePaths } from '../../lib/paths.ts'
import { HANDLED_SIGNALS, watchParent } from '../../lib/cli.ts'
import { createShell, projectContainers } from '../../lib/compose.ts'
import { loadConfig } from '../../lib/config.ts'
import {
  BUILD_TIMEOUT_MS,
  CommandTimeoutError,
  configureGateway,
  createGateway,
  recordCalls,
  stopRecording,
} from '../../lib/gateway.ts'
import { createPlatform } from '../../lib/platform.ts'
import { tempEnvDir } from '../helpers/run.ts'
import { Printer } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'
import { ROOT } from '../helpers/run.ts'

test.after.each(() => stopRecording())

const printer = () => {
  const out = memoryStream()
  return { out, ui: new Printer({ out, err: out }) }
}

test('dry-run prints changing commands and runs read-only ones; every call is recorded with its deadline', async () => {
  const calls = recordCalls((c) => (c.args[0] === 'ps' ? { stdout: '' } : undefined))
  const { out, ui } = printer()
  const gw = createGateway(ui, { dryRun: true })
  await gw.docker(['compose', '-p', 'x', 'up', '--detach'], { timeoutMs: 90_000 })
  await projectContainers(createShell(ui, { dryRun: true }), 'x')
  assert.equal(
    calls.map((c) => [c.program, c.args.slice(0, 2).join(' '), c.dryRun, c.timeoutMs]),
    [
      ['docker', 'compose -p', true, 90_000],
      ['docker', 'ps --all', false, 60_000],
    ],
  )
  assert.match(out.text(), /\[dry-run\] docker compose -p x up --detach/)
})

test('a program that missed its deadline fails at once afterwards, naming the deadline', async () => {
  const calls = recordCalls((c) => (c.args[0] === 'info' ? 'hang' : undefined))
  const gw = createGateway()
  try {
    await gw.docker(['info'], { timeoutMs: 5000, action: 'ask the daemon' })
    assert.unreachable('must time out')
  } catch (e) {
    assert.instance(e, CommandTimeoutError)
    assert.is((e as Error).message, "Can't ask the daemon: docker did not answer within 5 s")
  }
  try {
    await gw.docker(['ps'], { action: 'list the containers' })
    assert.unreachable('must fail fast')
  } catch (e) {
    assert.is(
      (e as Error).message,
      "Can't list the containers: docker did not answer within 5 s earlier in this run, so it was not asked again",
    )
  }
  assert.is(calls.length, 2)
})

test('a non-zero exit throws a CommandError naming the action, unless nothrow', async () => {
  recordCalls(() => ({ code: 1, stderr: 'no such container' }))
  const gw = createGateway()
  const r = await gw.docker(['inspect', 'x'], { nothrow: true })
  assert.equal([r.ok, r.code], [false, 1])
  try {
    await gw.docker(['rm', 'x'], { action: 'remove x' })
    assert.unreachable('must throw')
  } catch (e) {
    assert.match((e as Error).message, /^Can't remove x: `docker rm x` exited 1:\nno such container$/)
  }
})

test('the parent watch fires once when the parent changes (npx killed), never while it stays', async () => {
  let ppid = 4242
  let fired = 0
  const stop = watchParent(() => fired++, { pollMs: 5, ppid: () => ppid })
  await new Promise((r) => setTimeout(r, 40))
  assert.is(fired, 0, 'same parent: nothing')
  ppid = 1
  await waitUntil(() => fired > 0)
  ppid = 777
  await new Promise((r) => setTimeout(r, 40))
  assert.is(fired, 1, 'fires once')
  stop()
  let started = 0
  watchParent(() => started++, { pollMs: 5, ppid: () => 1 })() // started by init: nothing to watch
  await new Promise((r) => setTimeout(r, 30))
  assert.is(started, 0)
})

test('SIGHUP is handled like SIGINT and SIGTERM', () => {
  assert.equal([...HANDLED_SIGNALS], ['SIGINT', 'SIGTERM', 'SIGHUP'])
})

test('the platform gives each docker call its deadline: COMMAND_TIMEOUT, or the time it gives a step plus COMMAND_TIMEOUT', async () => {
  const envDir = tempEnvDir()
  const config = loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: envDir, COMMAND_TIMEOUT: '7s' },
    generateSecrets: true,
  })
  configureGateway({ timeoutMs: config.commandTimeoutMs })
  try {
    const calls = recordCalls()
    const { ui } = printer()
    const p = createPlatform(config, runtimePaths(config.varDir), ui, { shell: createShell(ui) })
    await p.slotStatus('green')
    await p.startSlot('green', 'v2', 90_000)
    await p.removeSlot('blue')
    await p.buildImage('v2')
    const deadlines = calls.map((c) => [
      c.args.includes('up') ? 'up' : c.args.includes('down') ? 'down' : c.args.includes('build') ? 'build' : c.args[0],
      c.timeoutMs,
    ])
    assert.equal(deadlines, [
      ['ps', 7000],
      ['up', 90_000 + 7000],
      ['down', 30_000 + 7000],
      ['build', BUILD_TIMEOUT_MS],
    ])
    // compose only starts the containers: readiness is the toolkit's own probes (lib/readiness.ts)
    assert.not.ok(calls[1]!.args.includes('--wait'), "compose does not wait on Docker's healthchecks")
  } finally {
    configureGateway({ timeoutMs: 60_000 })
    fs.rmSync(envDir, { recursive: true, force: true })
  }
})

// ---------------------------------------------------------------- no process start outside the gateway

/** Ways to start a process in TypeScript: zx's $, child_process, and worker-ish escapes. */
const PROCESS_START = [
  { what: "zx's $ (import)", re: /import\s*\{[^}]*(?<![\w.])\$(?![\w])[^}]*\}\s*from\s*['"]zx['"]/ },
  {
    what: 'zx (default or namespace import)',
    re: /import\s+(?:\*\s+as\s+)?\w+\s*(?:,\s*\{[^}]*\})?\s*from\s*['"]zx['"]/,
  },
  { what: 'zx globals', re: /['"]zx\/globals['"]/ },
  // `$` as a call: after a blank, an operator or an opening bracket (not the `$` that ends a regex class or a template)
  { what: 'a $ template or $() preset', re: /(?:^|[\s(=,![{:;?&|])\$(?:`|\(\s*\{)/m },
  { what: 'child_process', re: /['"](?:node:)?child_process['"]/ },
  { what: 'process.binding / spawn_sync', re: /process\.binding\(|spawn_sync/ },
  {
    what: 'a process package (execa, cross-spawn, shelljs, node-pty)',
    re: /['"](?:execa|cross-spawn|shelljs|node-pty)['"]/,
  },
  { what: 'node:cluster fork', re: /['"](?:node:)?cluster['"]/ },
]

/** The one file allowed to start processes. */
const ALLOWED = new Set(['lib/gateway.ts'])

export function processStarts(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  return PROCESS_START.filter((p) => p.re.test(code)).map((p) => p.what)
}

function sources(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => path.relative(ROOT, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
}

test('the scan recognises every way of starting a process it looks for', () => {
  const samples = [
    "import { $, retry } from 'zx'",
    "import { retry, $ } from 'zx'",
    "import zx from 'zx'",
    "import * as zx from 'zx'",
    "import 'zx/globals'",
    'const r = await q`docker ps`; await $`ls`',
    'await $({ quiet: true })`ls`',
    "import { spawn } from 'node:child_process'",
    "const cp = require('child_process')",
    "import { execa } from 'execa'",
    "import spawn from 'cross-spawn'",
    "import shell from 'shelljs'",
    "import cluster from 'node:cluster'",
  ]
  for (const s of samples) assert.ok(processStarts(s).length > 0, `not recognised: ${s}`)
  assert.equal(
    processStarts(
      "import { retry } from 'zx'\nconst price = `$${n}`\n// $`in a comment`\nconst re = /[()$`]/\nconst t = `^${a}$`",
    ),
    [],
  )
})

test('no file in lib/ or scripts/ starts a process except lib/gateway.ts', () => {
  const files = [...sources('lib'), ...sources('scripts')]
  assert.ok(files.length > 30, `scanned ${files.length} files`)
  assert.ok(files.includes('lib/gateway.ts'))
  const offenders = files
    .filter((f) => !ALLOWED.has(f))
    .map((f) => ({ f, found: processStarts(fs.readFileSync(path.join(ROOT, f), 'utf8')) }))
    .filter((o) => o.found.length)
    .map((o) => `${o.f}: ${o.found.join(', ')}`)
  assert.equal(offenders, [], `start processes through lib/gateway.ts:\n${offenders.join('\n')}`)
  assert.ok(
    processStarts(fs.readFileSync(path.join(ROOT, 'lib/gateway.ts'), 'utf8')).length > 0,
    'the gateway itself is seen by the scan',
  )
})

async function waitUntil(cond: () => boolean, ms = 2000): Promise<void> {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

test.run()

// The restore drill's scratch PostgreSQL container: argv builders (pure) and its lifecycle.
// No network (--network none: nothing reaches it, it reaches nothing), a random password passed
// through the environment (`-e NAME` without a value), a label so a killed drill's container
// is found and removed by the next one, and `rm -f -v` so its data volume goes with it.
import { randomBytes } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { OperationError } from '../errors.ts'
import type { Gateway } from '../gateway.ts'

export const DRILL_LABEL = 'dms.restore-drill'

export type Scratch = { name: string; image: string; user: string; db: string; project: string }

export function scratchName(project: string, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
    .toLowerCase()
  return `${project}-drill-${stamp}`
}

export const newScratchPassword = () => randomBytes(24).toString('base64url')

export function runScratchArgs(c: Scratch): string[] {
  return [
    'run',
    '-d',
    '--name',
    c.name,
    '--label',
    `${DRILL_LABEL}=${c.project}`,
    '--network',
    'none',
    '-e',
    `POSTGRES_USER=${c.user}`,
    '-e',
    `POSTGRES_DB=${c.db}`,
    '-e',
    'POSTGRES_PASSWORD',
    c.image,
  ]
}

const conn = (c: Scratch) => ['-h', '127.0.0.1', '-U', c.user, '-d', c.db]

/** Ready once it answers on TCP (the entrypoint's first, socket-only server does not). */
export const readyArgs = (c: Scratch) => ['exec', c.name, 'pg_isready', '-q', ...conn(c)]

export const restoreArgs = (c: Scratch) => [
  'exec',
  '-i',
  '-e',
  'PGPASSWORD',
  c.name,
  'pg_restore',
  ...conn(c),
  '--no-owner',
  '--no-privileges',
  '--exit-on-error',
  '--single-transaction',
]

export const scratchPsqlArgs = (c: Scratch, sql: string) => [
  'exec',
  '-e',
  'PGPASSWORD',
  c.name,
  'psql',
  ...conn(c),
  '-v',
  'ON_ERROR_STOP=1',
  '-tA',
  '-c',
  sql,
]

/** The check command runs with sh -c in the container, psql's PG* variables pointing at the restored database. */
export const checkCommandArgs = (c: Scratch, command: string) => [
  'exec',
  '-e',
  'PGPASSWORD',
  '-e',
  'PGHOST=127.0.0.1',
  '-e',
  `PGUSER=${c.user}`,
  '-e',
  `PGDATABASE=${c.db}`,
  c.name,
  'sh',
  '-c',
  command,
]

export const leftoverArgs = (project: string) => ['ps', '-aq', '--filter', `label=${DRILL_LABEL}=${project}`]
export const removeArgs = (ids: string[]) => ['rm', '-f', '-v', ...ids]

/** Removes scratch containers of this project (a killed drill's, or this drill's at its end); how many. */
export async function removeScratch(sh: Gateway, project: string): Promise<number> {
  const r = await sh.docker(leftoverArgs(project), { changes: false, nothrow: true, action: 'find scratch containers' })
  const ids = r.stdout.split('\n').filter((l) => l.trim())
  if (ids.length) await sh.docker(removeArgs(ids), { nothrow: true, action: 'remove the scratch database container' })
  return ids.length
}

/** Starts the container and polls pg_isready until it answers, or the deadline passes (it exited: at once). */
export async function startScratch(
  sh: Gateway,
  c: Scratch,
  env: Record<string, string>,
  o: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const r = await sh.docker(runScratchArgs(c), { env, nothrow: true, action: 'start the scratch database' })
  if (!r.ok)
    throw new OperationError(
      `Can't start the scratch database ${c.name}: ${r.stderr.trim().split('\n').pop()}`,
      `Check that the image ${c.image} exists (DRILL_IMAGE): docker image inspect ${c.image}.`,
    )
  if (sh.dryRun) return
  const deadline = Date.now() + o.timeoutMs
  for (;;) {
    if ((await sh.docker(readyArgs(c), { changes: false, nothrow: true, action: 'ask the scratch database' })).ok)
      return
    const state = await sh.docker(['inspect', '--format', '{{.State.Status}}', c.name], {
      changes: false,
      nothrow: true,
    })
    if (state.stdout.trim() !== 'running' || Date.now() > deadline) {
      const log = await sh.docker(['logs', '--tail', '5', c.name], { changes: false, nothrow: true })
      throw new OperationError(
        `Can't start the scratch database ${c.name}: it is ${state.stdout.trim() || 'gone'} and not answering${state.stdout.trim() === 'running' ? ` after ${Math.round(o.timeoutMs / 1000)} s` : ''}. Its log ends: ${(log.stdout + log.stderr).trim().split('\n').slice(-3).join(' | ')}`,
        `Check the image ${c.image} (DRILL_IMAGE) starts with POSTGRES_USER, POSTGRES_DB and POSTGRES_PASSWORD set.`,
      )
    }
    await delay(300, undefined, o.signal ? { signal: o.signal } : undefined)
  }
}

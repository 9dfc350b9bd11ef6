// PostgreSQL migrations: listed and run in a one-off container of a release (node /app/src/migrate.js),
// the one-off containers removed afterwards.
import type { Slot } from './model.ts'
import type { Config } from './config.ts'
import { runArgs, slotTarget, type ComposeTarget, type Shell } from './compose.ts'
import { OperationError, RefusedError } from './errors.ts'

export type Migration = { version: string; name: string; file: string; contract: boolean }
export type PendingMigrations = { pending: Migration[]; applied: string[]; contract: boolean }

const MIGRATE = ['node', '/app/src/migrate.js']

/** The one-off `migrate` service of a release's slot project. */
export function migrateTarget(config: Config, slot: Slot, version: string): ComposeTarget {
  return { ...slotTarget(config, slot, version), profiles: ['migrate'] }
}

export function listPendingArgs(t: ComposeTarget): string[] {
  return runArgs(t, 'migrate', [...MIGRATE, '--list-pending', '--json'])
}

export function migrateArgs(t: ComposeTarget, o: { allowContract?: boolean } = {}): string[] {
  return runArgs(t, 'migrate', [...MIGRATE, '--json', ...(o.allowContract ? ['--allow-contract'] : [])])
}

/** migrate.js prints one JSON document as its last line. */
export function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.trim().split('\n').reverse()
  for (const l of lines) {
    if (!l.trim().startsWith('{')) continue
    try {
      return JSON.parse(l) as Record<string, unknown>
    } catch {
      // not ours
    }
  }
  return null
}

/** Pending migrations of a release, read by the release's own migrate.js (read-only). */
export async function listPending(sh: Shell, config: Config, slot: Slot, version: string): Promise<PendingMigrations> {
  const t = migrateTarget(config, slot, version)
  const r = await sh.docker(listPendingArgs(t), { env: t.env, changes: false, nothrow: true, timeoutMs: 60_000 })
  const doc = lastJsonLine(r.stdout)
  if (!r.ok || !doc || !Array.isArray(doc.pending))
    throw new OperationError(
      `Can't list the pending migrations of ${version}: ${String(doc?.error ?? (r.stderr.trim().split('\n').pop() || `exit ${r.code}`))}`,
    )
  return {
    pending: doc.pending as Migration[],
    applied: (doc.applied as string[]) ?? [],
    contract: doc.contract === true,
  }
}

/** Applies the release's migrations. Exit 3 of migrate.js (a contracting migration) is a refusal. */
export async function runMigrations(
  sh: Shell,
  config: Config,
  slot: Slot,
  version: string,
  o: { allowContract?: boolean } = {},
): Promise<string[]> {
  const t = migrateTarget(config, slot, version)
  const r = await sh.docker(migrateArgs(t, o), { env: t.env, nothrow: true, timeoutMs: 10 * 60_000 })
  if (sh.dryRun) return []
  const doc = lastJsonLine(r.stdout)
  if (r.code === 3)
    throw new RefusedError(
      `Can't migrate to ${version}: it contracts the schema (${JSON.stringify(doc?.contract ?? '')}); the live release may still use what it removes`,
      'Ship the contraction in a later release, or re-run with --allow-contract once no release uses the old schema.',
    )
  if (!r.ok || doc?.ok !== true)
    throw new OperationError(
      `Can't migrate to ${version}: ${String(doc?.error ?? (r.stderr.trim().split('\n').pop() || `exit ${r.code}`))}${doc?.failed ? ` (in ${String(doc.failed)}, rolled back)` : ''}`,
    )
  return (doc.applied as string[]) ?? []
}

/** One-off containers (`compose run`) a killed run may have left in a project. */
export async function removeOneOffs(sh: Shell, project: string): Promise<number> {
  const r = await sh.docker(
    [
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'label=com.docker.compose.oneoff=True',
    ],
    { changes: false, nothrow: true },
  )
  const ids = r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
  if (ids.length)
    await sh.docker(['rm', '-f', ...ids], { nothrow: true, action: `remove one-off containers of ${project}` })
  return ids.length
}

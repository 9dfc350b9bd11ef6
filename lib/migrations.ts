// Migrations: the manifest's release command (config.app.release) run in a one-off container of the release
// (`compose run --rm`), its optional `pending` command read for the plan, the expand/contract guard for an app
// that marks contracting migrations; the one-off containers removed afterwards. An app without one: no step.
import type { Slot } from './model.ts'
import type { Config } from './config.ts'
import { runArgs, slotTarget, type ComposeTarget, type Shell } from './compose.ts'
import { OperationError, RefusedError } from './errors.ts'
import { appOf } from './manifest/app-model.ts'
import type { ReleaseCommand } from './manifest/types.ts'

/** One pending migration as the pending command named it; `contract`: it removes what a live release may use. */
export type Migration = { file: string; contract: boolean; version?: string; name?: string }
export type PendingMigrations = { pending: Migration[]; applied: string[]; contract: boolean }

/** The exit code by which a release command refuses to contract the schema (the DMS example's convention). */
export const CONTRACT_REFUSED_EXIT = 3

/** The app's release command, or null: an app without one has no migration step. */
export function releaseOf(config: Config): ReleaseCommand | null {
  return appOf(config).release ?? null
}

/** Where the release command runs instead of this machine's slot project: its host's (several hosts), over SSH. */
export type ReleaseVia = { target: ComposeTarget & { service: string }; docker: Shell['docker'] }

/**
 * The one-off service of a release's slot that runs the release command: `release` (profile release) in the slot
 * file generated from the manifest (render-compose.ts). The command is the manifest's, given to `compose run`.
 */
export function releaseTarget(config: Config, slot: Slot, version: string): ComposeTarget & { service: string } {
  return { ...slotTarget(config, slot, version), profiles: ['release'], service: 'release' }
}

export function listPendingArgs(t: ComposeTarget & { service: string }, release: ReleaseCommand): string[] | null {
  return release.pending ? runArgs(t, t.service, release.pending) : null
}

export function migrateArgs(
  t: ComposeTarget & { service: string },
  release: ReleaseCommand,
  o: { allowContract?: boolean } = {},
): string[] {
  return runArgs(t, t.service, [...release.command, ...(o.allowContract ? (release.allowContract ?? []) : [])])
}

/** The last line of the output that is a JSON object (the DMS example prints its result so), or null. */
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

/**
 * What the pending command printed: a JSON document with a `pending` list (entries with file or name and an
 * optional contract flag), or one pending migration per line; an entry holding the marker contracts the schema.
 */
export function parsePending(stdout: string, marker?: string): PendingMigrations {
  const marked = (text: string) => (marker ? text.includes(marker) : false)
  const doc = lastJsonLine(stdout)
  if (doc && Array.isArray(doc.pending)) {
    const pending = (doc.pending as unknown[]).map((x): Migration => {
      if (typeof x === 'string') return { file: x, contract: marked(x) }
      const e = (x ?? {}) as Record<string, unknown>
      const file = String(e.file ?? e.name ?? e.version ?? JSON.stringify(x))
      return {
        ...e,
        file,
        contract: e.contract === true || marked(file),
      }
    })
    const applied = Array.isArray(doc.applied) ? doc.applied.map(String) : []
    return { pending, applied, contract: doc.contract === true || pending.some((m) => m.contract) }
  }
  const pending = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => ({ file: marker ? l.replace(marker, '').trim() || l : l, contract: marked(l) }))
  return { pending, applied: [], contract: pending.some((m) => m.contract) }
}

const lastLine = (r: { stderr: string; code: number | null }) => r.stderr.trim().split('\n').pop() || `exit ${r.code}`

/** Pending migrations of a release by its pending command (read-only); null when the app has none to ask. */
export async function listPending(
  sh: Shell,
  config: Config,
  slot: Slot,
  version: string,
  via?: ReleaseVia,
): Promise<PendingMigrations | null> {
  const release = releaseOf(config)
  if (!release?.pending) return null
  const t = via?.target ?? releaseTarget(config, slot, version)
  const docker = via?.docker ?? sh.docker.bind(sh)
  const r = await docker(listPendingArgs(t, release)!, {
    env: t.env,
    changes: false,
    nothrow: true,
    timeoutMs: 60_000,
  })
  const doc = lastJsonLine(r.stdout)
  if (!r.ok || doc?.ok === false)
    throw new OperationError(`Can't list the pending migrations of ${version}: ${String(doc?.error ?? lastLine(r))}`)
  return parsePending(r.stdout, release.contractMarker)
}

/**
 * Runs the release command of a release; returns what it applied (its JSON `applied`, when it prints one).
 * An app without a release command: nothing to run. Exit 3 of an app that marks contractions is a refusal.
 */
export async function runMigrations(
  sh: Shell,
  config: Config,
  slot: Slot,
  version: string,
  o: { allowContract?: boolean } = {},
  via?: ReleaseVia,
): Promise<string[]> {
  const release = releaseOf(config)
  if (!release) return []
  const t = via?.target ?? releaseTarget(config, slot, version)
  const docker = via?.docker ?? sh.docker.bind(sh)
  const r = await docker(migrateArgs(t, release, o), { env: t.env, nothrow: true, timeoutMs: 10 * 60_000 })
  if (sh.dryRun) return []
  const doc = lastJsonLine(r.stdout)
  if (r.code === CONTRACT_REFUSED_EXIT && release.contractMarker)
    throw new RefusedError(
      `Can't migrate to ${version}: it contracts the schema (${JSON.stringify(doc?.contract ?? '')}); the live release may still use what it removes`,
      'Ship the contraction in a later release, or re-run with --allow-contract once no release uses the old schema.',
    )
  if (!r.ok || doc?.ok === false)
    throw new OperationError(
      `Can't migrate to ${version}: the release command ${release.command.join(' ')} failed: ${String(doc?.error ?? lastLine(r))}${doc?.failed ? ` (in ${String(doc.failed)}, rolled back)` : ''}`,
    )
  return Array.isArray(doc?.applied) ? doc.applied.map(String) : []
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

// Planning the data steps of a deploy from the app's manifest: the backup by its accessory's backup recipe, and
// the migrations by its release command (the pending ones when its pending command can be asked, the
// expand/contract guard); an app without a recipe or a release command has no such step, and the plan says so.
import type { Config } from '../config.ts'
import { backupRecipe, NO_BACKUP } from '../db-recipe.ts'
import { appOf } from '../manifest/app-model.ts'
import { releaseOf, type PendingMigrations } from '../db.ts'
import { RefusedError } from '../errors.ts'
import type { Slot } from '../model.ts'
import type { DeployPorts } from './adapters.ts'
import type { DeployOptions } from './deploy-types.ts'

export function describeMigrations(m: PendingMigrations): string {
  if (!m.pending.length) return 'none pending'
  return m.pending.map((x) => `${x.file}${x.contract ? ' (CONTRACT)' : ''}`).join(', ')
}

/** The refusal of a contraction the operator did not allow (migrations are expand-only by default). */
export function refuseContraction(version: string, m: PendingMigrations): RefusedError {
  return new RefusedError(
    `Can't deploy ${version}: its migrations contract the schema (${m.pending
      .filter((x) => x.contract)
      .map((x) => x.file)
      .join(', ')}); the live release may still use what they remove. Nothing was changed.`,
    'Migrations are expand-only by default. Ship the contraction once no live release needs the old schema, with --allow-contract.',
  )
}

/** The migrations a deploy would apply, listed when the image and the database are there; a contraction is refused unless allowed. */
export async function planMigrations(
  ports: Pick<DeployPorts, 'config' | 'listPending' | 'platform'>,
  o: Pick<DeployOptions, 'version' | 'build' | 'allowContract'>,
  slot: Slot,
  coreRunning: boolean,
): Promise<{ migrations: PendingMigrations | null; migrationsNote: string }> {
  const release = releaseOf(ports.config)
  if (!release) return { migrations: null, migrationsNote: 'no migration step (the app has no release command)' }
  if (!coreRunning)
    return {
      migrations: null,
      migrationsNote: 'every migration of the release (the database starts empty or is started first)',
    }
  if (!release.pending) return { migrations: null, migrationsNote: 'not listed (the app has no pending command)' }
  if (o.build && !(await ports.platform.imageAvailable(o.version)))
    return { migrations: null, migrationsNote: 'listed after the image is built' }
  const migrations = await ports.listPending(slot, o.version)
  if (migrations?.contract && !o.allowContract) throw refuseContraction(o.version, migrations)
  return { migrations, migrationsNote: migrations ? describeMigrations(migrations) : 'not listed' }
}

/** The plan's line of the migration step. */
export function migrationStep(config: Config, version: string, note: string, allowContract: boolean): string {
  const release = releaseOf(config)
  if (!release) return 'no migrations: the app has no release command'
  const guard = release.contractMarker ? (allowContract ? ' (contracting allowed)' : ' (expand-only)') : ''
  return `migrate: run ${release.command.join(' ')} of ${version} in a one-off ${release.service} container: ${note}${guard}`
}

/** A recipe command for the plan: the script of `sh -c <script>`, else the words. */
const shown = (argv: string[]): string => (argv[0] === 'sh' && argv[1] === '-c' && argv[2] ? argv[2] : argv.join(' '))

/** The plan's line of the backup step. */
export function backupStep(config: Config): string {
  const recipe = backupRecipe(appOf(config))
  if (!recipe) return NO_BACKUP
  return `back up ${recipe.accessory} with ${shown(recipe.command)} to ${config.varDir}/backups (kept: newest ${config.backup.keepCount}, at most ${config.backup.keepDays} days)${recipe.verify ? `, verified by ${recipe.verify.join(' ')}` : ''}`
}

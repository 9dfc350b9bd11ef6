#!/usr/bin/env -S npx zx
// Backups that survive the host: `run` (pg_dump, then an encrypted copy in the restic repository
// and its retention; from cron), `list` (local dumps and off-host snapshots), `verify` (restic
// check, and the newest dump fetched back and read by pg_restore --list).
import { runScript, scriptArgs, EXIT } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { UsageError, shownValue } from '../lib/errors.ts'
import { createGateway } from '../lib/gateway.ts'
import { runOperation } from '../lib/operation.ts'
import { fileStore } from '../lib/stores/file-store.ts'
import { listAll, verifyBackups } from '../lib/backup/inspect.ts'
import { backupSettings } from '../lib/backup/settings.ts'
import { takeBackup } from '../lib/backup/take.ts'
import { backupRecipe, NO_BACKUP } from '../lib/db-recipe.ts'

const COMMANDS = ['run', 'list', 'verify'] as const
const argv = scriptArgs()
const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : null

await runScript(
  {
    name: 'backup',
    summary: 'Back up the database off the host (encrypted, with restic), list the backups, verify them.',
    description: [
      'Usage: npx zx scripts/backup.ts run|list|verify [flags]',
      '  run     pg_dump -Fc to VAR_DIR/backups with the row count of every table, both copied to the restic',
      '          repository BACKUP_REPOSITORY (encrypted), then restic forget --prune with BACKUP_KEEP_DAILY/',
      '          WEEKLY/MONTHLY. The password comes from RESTIC_PASSWORD or RESTIC_PASSWORD_FILE, never argv.',
      '  list    the local dumps and the snapshots in the repository, newest first',
      '  verify  restic check, then the newest dump fetched back and read by pg_restore --list',
      "The dump is the app's backup recipe (the manifest's accessory backup.command, run in its container). An app",
      'without one has nothing to back up: run and verify say so and exit 0.',
    ].join('\n'),
    flags: { ...LOCK_FLAGS },
    examples: [
      'npx zx scripts/backup.ts run --yes --quiet   # from cron, e.g. 15 3 * * *',
      'npx zx scripts/backup.ts list --json',
      'npx zx scripts/backup.ts verify',
    ],
  },
  async (ctx) => {
    if (!command || !(COMMANDS as readonly string[]).includes(command))
      throw new UsageError(
        `Can't back up: ${command ? `unknown command ${shownValue(command)}` : 'no command given'}`,
        'Say what to do: npx zx scripts/backup.ts run|list|verify (see --help).',
      )
    const env = loadEnv(ctx, { generateSecrets: false })
    const { ui, config, paths } = env
    const sh = createGateway(ui, { dryRun: ctx.common.dryRun })
    if (command !== 'list' && !backupRecipe(config.app)) {
      ui.info(`Nothing to back up: ${NO_BACKUP} (${config.app.file}).`)
      ui.result({ ok: true, nothingToBackUp: true, reason: NO_BACKUP })
      return EXIT.OK
    }
    if (command === 'list') {
      const r = await listAll(sh, config, paths.backups)
      ui.info(`Off-host backups in ${r.repository} (${r.offHost.length}):`)
      for (const s of r.offHost) ui.info(`  ${s.shortId}  ${s.time}  ${s.files.join(' ')}`)
      ui.info(`Local backups in ${paths.backups} (${r.local.length}):`)
      for (const b of r.local) ui.info(`  ${b.time.toISOString()}  ${b.name}  ${b.bytes} bytes`)
      ui.result({
        ok: true,
        repository: r.repository,
        offHost: r.offHost,
        local: r.local.map((b) => ({ file: b.file, time: b.time.toISOString(), bytes: b.bytes })),
      })
      return EXIT.OK
    }
    if (command === 'verify') {
      const v = await verifyBackups(sh, config)
      ui.success(
        `restic check passed (${v.snapshots} snapshots); the newest dump ${v.dump} (snapshot ${v.snapshot.slice(0, 8)}) reads back with ${v.entries} entries.`,
      )
      ui.result({ ok: true, ...v })
      return EXIT.OK
    }
    const s = backupSettings(config)
    const store = fileStore(env)
    return runOperation(ctx, env, {
      action: 'backup',
      describe: 'back up the database off the host',
      rehearse: true,
      plan: async () => ({
        steps: [
          'count the rows of every table of the live database',
          `pg_dump -Fc to ${paths.backups}, checked with pg_restore --list (kept: newest ${config.backup.keepCount}, at most ${config.backup.keepDays} days)`,
          `copy the dump and its counts to the restic repository ${s.repository || '(BACKUP_REPOSITORY is not set)'}, encrypted`,
          `restic forget --prune: keep ${s.keep.daily} daily, ${s.keep.weekly} weekly, ${s.keep.monthly} monthly`,
        ],
      }),
      execute: async () => {
        const started = Date.now()
        const r = await takeBackup(sh, config, paths.backups, ui, { version: null, offHost: 'required' })
        if (!sh.dryRun)
          store.audit({
            action: 'backup',
            outcome: 'done',
            durationMs: Date.now() - started,
            detail: `${r.file} -> snapshot ${r.snapshot} in ${r.repository}`,
          })
        return r
      },
      report: (_plan, r) =>
        ui.success(
          `Backed up ${Object.keys(r.counts).length} tables (${r.bytes} bytes) to ${r.file}, copied off the host as snapshot ${r.snapshot} in ${r.repository}.`,
        ),
      json: (_plan, r) => ({ backup: r }),
    })
  },
  argv.slice(command ? 1 : 0),
)

#!/usr/bin/env -S npx zx
// Prepares a host, idempotently: Docker Engine, Compose v2, the base image, the stack's images,
// and (--for-tests) the host tools the tests use.
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { buildArgs, coreTarget, createShell } from '../lib/compose.ts'
import { coreServices } from '../lib/core-stack.ts'
import { writeAccessoriesCompose } from '../lib/generated-compose.ts'
import { RefusedError } from '../lib/errors.ts'
import { BUILD_TIMEOUT_MS } from '../lib/gateway.ts'
import { enableLiveRestore } from '../lib/docker-daemon.ts'
import {
  aptInstall,
  checkHost,
  ensureBaseImage,
  installCompose,
  isDebianLike,
  startDocker,
  type Need,
} from '../lib/host.ts'
import { decideBootstrap } from '../lib/bootstrap-plan.ts'

await runScript(
  {
    name: 'bootstrap',
    summary: 'Prepare this host: Docker Engine, Compose v2, the base image and the stack images (idempotent).',
    description: [
      'On Debian or Ubuntu as root it installs what is missing; elsewhere it reports what to install.',
      'It turns on the daemon\'s live-restore ("live-restore": true merged into /etc/docker/daemon.json, applied',
      'with SIGHUP) so a dockerd restart leaves the containers serving. npm test runs it with --for-tests --no-build.',
    ].join('\n'),
    flags: {
      check: { type: 'boolean', description: 'only report what is missing (exit 2 if anything is)' },
      'for-tests': {
        type: 'boolean',
        description: 'also install the host tools the tests use (nginx, promtool, amtool, wrk, openssl, …)',
      },
      'no-build': { type: 'boolean', description: 'do not build the stack images' },
    },
    examples: ['npx zx scripts/bootstrap.ts --check', 'npx zx scripts/bootstrap.ts --for-tests'],
  },
  async (ctx) => {
    const { ui } = ctx
    const { config } = loadEnv(ctx, { generateSecrets: false })
    const forTests = ctx.flags['for-tests'] === true
    const show = (needs: Need[]) =>
      ui.table(
        ['need', 'status', 'detail'],
        needs.map((n) => [n.name, n.ok ? ui.c.green('ok') : ui.c.red('missing'), n.detail]),
      )
    const before = await ui.step('Checking the host', () => checkHost({ forTests, baseImage: config.baseImage }))
    const decision = decideBootstrap(before, {
      check: ctx.flags.check === true,
      dryRun: ctx.common.dryRun,
      noBuild: ctx.flags['no-build'] === true,
      forTests,
      debianLike: isDebianLike(),
      root: process.getuid?.() === 0,
    })
    if (decision.kind === 'report') {
      show(before)
      ui.result({ ok: decision.missing.length === 0, needs: before })
      if (decision.missing.length && ctx.common.dryRun)
        ui.info(`Would install or start: ${decision.missing.join(', ')}`)
      return decision.missing.length ? EXIT.REFUSED : EXIT.OK
    }
    if (decision.kind === 'ready') {
      // the quick path (npm test runs this every time): nothing to install, start or build
      show(before)
      ui.result({ ok: true, needs: before })
      ui.success('This host is ready.')
      return EXIT.OK
    }
    if (decision.kind === 'refuse') {
      show(before)
      throw new RefusedError(
        `Can't prepare this host: ${decision.missing.join(', ')} missing, and automatic installation needs Debian or Ubuntu as root`,
        'Install them by hand (see the detail column), then run this again.',
      )
    }
    if (decision.packages.length)
      await ui.step(`Installing Debian packages: ${decision.packages.join(' ')}`, () => aptInstall(decision.packages))
    if (decision.compose) await ui.step('Installing the Compose v2 plugin', () => installCompose())
    // before dockerd starts, so a fresh daemon reads it; a running one is reloaded (SIGHUP)
    if (decision.liveRestore) {
      const r = await ui.step('Turning on live-restore (containers keep running while dockerd restarts)', () =>
        enableLiveRestore(),
      )
      ui.info(
        `live-restore: ${r.changed ? 'written to /etc/docker/daemon.json' : 'already in /etc/docker/daemon.json'}, applied ${r.applied}`,
      )
    }
    if (decision.startDocker) {
      const how = await ui.step('Starting the Docker Engine', () => startDocker())
      ui.detail(`dockerd runs as: ${how}`)
    }
    const base = await ui.step(`Making sure the base image ${config.baseImage} exists`, () =>
      ensureBaseImage(config.baseImage),
    )
    ui.detail(`base image: ${base}`)
    if (decision.build) {
      const sh = createShell(ui)
      // the accessories (and their build directories) come from the app's manifest
      writeAccessoriesCompose(config)
      const t = coreTarget(config)
      await ui.step(`Building the stack images (${coreServices(config).join(', ')})`, () =>
        sh.docker(buildArgs(t), { env: t.env, action: 'build the stack images', timeoutMs: BUILD_TIMEOUT_MS }),
      )
    }
    const after = await checkHost({ forTests, baseImage: config.baseImage })
    show(after)
    ui.result({ ok: after.every((n) => n.ok), needs: after })
    if (after.some((n) => !n.ok)) return EXIT.FAILED
    ui.success('This host is ready.')
  },
)

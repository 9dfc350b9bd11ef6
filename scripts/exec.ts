#!/usr/bin/env -S npx zx
// Runs a command in a target's live release: a new one-off container of its image (default) or
// inside a running service container (--running); interactive when on a terminal; audited.
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { quoteArgv, run } from '../lib/gateway.ts'
import { readLive } from '../lib/nginx.ts'
import { readState } from '../lib/state.ts'
import { appendAudit } from '../lib/audit.ts'
import { describeExec, planExec } from '../lib/day2/exec.ts'
import { sshOptionsFor } from '../lib/multihost-platform.ts'
import { runOnHost } from '../lib/ssh.ts'

await runScript(
  {
    name: 'exec',
    summary: 'Run a command in a new one-off container of the live release, or inside a running one (--running).',
    description:
      'Interactive (a TTY) when stdin and stdout are a terminal; otherwise the output is printed with secrets\n' +
      'masked. Every run is written to the audit log (who, what, when; secrets in the command masked).',
    positionals: '<command> [args…]',
    flags: {
      running: { type: 'string', value: '<service>', description: 'run inside this running app container instead' },
      slot: { type: 'string', value: '<blue|green>', description: 'the release of this slot (default: the live one)' },
      host: {
        type: 'string',
        value: '<name>',
        description: 'app hosts: the host whose --running container (default: the first that runs it)',
      },
      timeout: { type: 'duration', default: '1h', description: 'stop the command after this long' },
    },
    examples: [
      'npx zx scripts/exec.ts -- node -e "console.log(process.version)"',
      'npx zx scripts/exec.ts --running api -- sh',
      'npx zx scripts/exec.ts --slot green --dry-run -- node /app/src/migrate.js --list-pending',
      'npx zx scripts/exec.ts --running web-2 --host app-2 -- sh   # on an app host, over SSH',
    ],
    exitCodes: [
      [EXIT.OK, 'the command ran and exited 0'],
      [EXIT.FAILED, 'the command exited non-zero (its code is printed, and in --json exitCode), or could not start'],
      [EXIT.REFUSED, 'bad input (no command, unknown service or slot, no release in the slot)'],
      [EXIT.INTERRUPTED, 'interrupted'],
    ],
  },
  async (ctx) => {
    const { config, paths, ui } = loadEnv(ctx, { generateSecrets: false })
    const tty = !!process.stdin.isTTY && !!process.stdout.isTTY && !ctx.common.json
    const plan = planExec(
      config,
      {
        command: ctx.positionals,
        ...(typeof ctx.flags.running === 'string' ? { running: ctx.flags.running } : {}),
        ...(typeof ctx.flags.slot === 'string' ? { slot: ctx.flags.slot } : {}),
        ...(typeof ctx.flags.host === 'string' ? { host: ctx.flags.host } : {}),
        tty,
      },
      readState(paths.state, config.target),
      readLive(paths.live).live,
    )
    ui.info(ui.mask(`Plan (${config.target}): ${plan.steps.join('; ')}`))
    if (ctx.common.dryRun) {
      ui.info(
        ui.mask(`[dry-run] docker ${quoteArgv(plan.args)}${plan.host ? ` (on ${plan.host.name}, over SSH)` : ''}`),
      )
      ui.result({ ok: true, dryRun: true, mode: plan.mode, slot: plan.slot, version: plan.version, args: plan.args })
      return EXIT.OK
    }
    const audit = (outcome: string, extra: { durationMs?: number; detail?: string } = {}) =>
      appendAudit(
        paths.audit,
        { action: 'exec', outcome, target: config.target, version: plan.version, slot: plan.slot, ...extra },
        (s) => ui.mask(s),
      )
    audit('started', { detail: describeExec(plan) })
    const t0 = Date.now()
    let r: Awaited<ReturnType<typeof run>>
    try {
      const o = {
        stdinFd: 0,
        inherit: tty,
        nothrow: true,
        timeoutMs: Number(ctx.flags.timeout),
        killGraceMs: 10_000,
        action: `run a command in ${plan.mode === 'one-off' ? 'a one-off container' : plan.service}`,
      }
      r = plan.host
        ? await runOnHost(plan.host, 'docker', plan.args, { ...o, ssh: sshOptionsFor(config, paths), tries: 1 })
        : await run('docker', plan.args, { ...o, env: plan.env })
    } catch (e) {
      audit('failed', { durationMs: Date.now() - t0, detail: `${describeExec(plan)}: ${(e as Error).message}` })
      throw e
    }
    const durationMs = Date.now() - t0
    audit(r.ok ? 'done' : 'failed', { durationMs, detail: `${describeExec(plan)}: exit ${r.code}` })
    if (!tty && !ctx.common.json) {
      process.stdout.write(ui.mask(r.stdout))
      process.stderr.write(ui.mask(r.stderr))
    }
    ui.result({
      ok: r.ok,
      mode: plan.mode,
      slot: plan.slot,
      version: plan.version,
      exitCode: r.code,
      stdout: ui.mask(r.stdout),
      stderr: ui.mask(r.stderr),
    })
    if (!r.ok) ui.error(`The command exited ${r.code}.`)
    return r.ok ? EXIT.OK : EXIT.FAILED
  },
)

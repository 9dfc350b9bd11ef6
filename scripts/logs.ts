#!/usr/bin/env -S npx zx
// The logs of a target's app services (of the live slot, or --slot / --release) or of one
// accessory, each line prefixed with its service and slot, secrets masked; --follow streams them.
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { InterruptedError, UsageError } from '../lib/errors.ts'
import { run } from '../lib/gateway.ts'
import { readLive } from '../lib/nginx.ts'
import { readState } from '../lib/state.ts'
import { formatLine, type HostLogs, lineSplitter, planLogs } from '../lib/day2/logs.ts'
import { runOnHost } from '../lib/ssh.ts'
import { sshOptionsFor } from '../lib/multihost-platform.ts'

const FOLLOW_MS = 7 * 24 * 3_600_000

await runScript(
  {
    name: 'logs',
    summary: 'Show the logs of the app services of the live slot (or --slot, --release), or of one accessory.',
    description:
      'Each line is "<service> <slot> | <time> <text>", secrets masked; on app hosts (over SSH) the slot is\n' +
      '"<slot>@<host>". --follow runs until Ctrl-C (exit 130).',
    flags: {
      service: {
        type: 'string',
        value: '<name>',
        description: "one service of the app's manifest (the DMS: frontend, api, docs, main), nginx, or an accessory",
      },
      slot: { type: 'string', value: '<blue|green>', description: 'the slot to read (default: the live one)' },
      release: { type: 'string', value: '<version>', description: 'the slot holding this release' },
      since: { type: 'string', value: '<time>', description: 'only lines since 10m, 2h or 2026-12-02T10:00:00Z' },
      tail: { type: 'number', value: '<n>', description: 'only the last n lines of each container' },
      grep: { type: 'string', value: '<regex>', description: 'only lines matching this (case-insensitive)' },
      follow: { type: 'boolean', short: 'f', description: 'keep printing new lines until interrupted' },
    },
    examples: [
      'npx zx scripts/logs.ts --since 10m',
      'npx zx scripts/logs.ts --service api --grep error --follow',
      'npx zx scripts/logs.ts --release 1.4.2 --json',
    ],
    exitCodes: [
      [EXIT.OK, 'ok'],
      [EXIT.FAILED, 'docker could not read the logs'],
      [EXIT.REFUSED, 'bad input (unknown service or slot, a release no slot holds, a bad --since or --grep)'],
      [EXIT.INTERRUPTED, 'interrupted (how --follow ends)'],
    ],
  },
  async (ctx) => {
    const f = ctx.flags
    const str = (k: string) => (typeof f[k] === 'string' ? (f[k] as string) : undefined)
    if (ctx.common.json && f.follow === true)
      throw new UsageError("Can't follow the logs as JSON: --json prints one document at the end", 'Drop one of them.')
    const { config, paths, ui } = loadEnv(ctx, { generateSecrets: false })
    const plan = planLogs(
      config,
      {
        service: str('service'),
        slot: str('slot'),
        release: str('release'),
        since: str('since'),
        grep: str('grep'),
        follow: f.follow === true,
        ...(typeof f.tail === 'number' ? { tail: f.tail } : {}),
      },
      readState(paths.state, config.target),
      readLive(paths.live).live,
    )
    const lines: string[] = []
    const splitter = (label: string) =>
      lineSplitter((l) => {
        const shown = formatLine(l, label, plan.grep, (s) => ui.mask(s))
        if (shown === null) return
        if (ctx.common.json) lines.push(shown)
        else process.stdout.write(`${shown}\n`)
      })
    const action = `read the logs of ${plan.services.join(', ')} (${plan.source})`
    const timeout = plan.follow ? { timeoutMs: FOLLOW_MS } : {}
    // here, or on each app host over SSH at once (--follow streams every host side by side)
    const reads: Array<Omit<HostLogs, 'host'> & { host?: HostLogs['host'] }> = plan.hosts ?? [
      { label: plan.source, args: plan.args },
    ]
    const ssh = plan.hosts ? sshOptionsFor(config, paths) : undefined
    const failures = await Promise.all(
      reads.map(async (x) => {
        const out = splitter(x.label)
        const o = { changes: false, nothrow: true, onStdout: (c: string) => out.push(c), ...timeout }
        const where = x.host ? `${x.host.name}: ` : ''
        try {
          const r =
            x.host && ssh
              ? await runOnHost(x.host, 'docker', x.args, {
                  ...o,
                  ssh,
                  tries: 1,
                  action: `${action} on ${x.host.name}`,
                })
              : await run('docker', x.args, { ...o, env: plan.env, action })
          return r.ok ? null : `${where}${r.stderr.trim().split('\n').pop() || `docker exited ${r.code}`}`
        } catch (e) {
          // an interrupt (how --follow ends: exit 130) and a local failure end the script as they are
          if (!x.host || e instanceof InterruptedError) throw e
          return `${where}${(e as Error).message.split('\n')[0]}`
        } finally {
          out.end()
        }
      }),
    )
    const failed = failures.filter((f): f is string => f !== null)
    const error = failed.length ? `Can't read the logs: ${ui.mask(failed.join('; '))}` : undefined
    const hosts = plan.hosts?.map((h) => h.host.name)
    // with --json, a host that can't be read still leaves the others' lines in the document
    ui.result({
      ok: !error,
      ...(error ? { exitCode: EXIT.FAILED, error } : {}),
      source: plan.source,
      version: plan.version,
      services: plan.services,
      ...(hosts ? { hosts } : {}),
      lines,
    })
    if (!error) return EXIT.OK
    ui.error(error)
    return EXIT.FAILED
  },
)

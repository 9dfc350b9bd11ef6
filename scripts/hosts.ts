#!/usr/bin/env -S npx zx
// The app hosts of a manifest (#16): without --drain/--undrain, one row per host (its containers of each
// slot, how many answer ready, drained or not) with the worst status; --drain <host> takes a host out of
// rotation and --undrain <host> puts it back, by the upstreams and a drained nginx reload, no deploy.
import path from 'node:path'
import { EXIT, runScript } from '../lib/cli.ts'
import { createShell } from '../lib/compose.ts'
import { UsageError } from '../lib/errors.ts'
import { parseParallel } from '../lib/hosts.ts'
import { loadManifest } from '../lib/manifest/load.ts'
import { PUBLISH_BASE } from '../lib/manifest/render-hosts.ts'
import { drainedFile, stackBalancer } from '../lib/multihost-balancer.ts'
import { applyDrained, nextDrained, readDrained } from '../lib/multihost-drain.ts'
import { hostsHealth } from '../lib/multihost-health.ts'
import { hostRows, type MultiHost } from '../lib/multihost.ts'
import { readLive } from '../lib/nginx.ts'
import { runOperation } from '../lib/operation.ts'
import { LOCK_FLAGS, loadEnv } from '../lib/script-env.ts'
import { writeSshFiles } from '../lib/ssh.ts'

await runScript(
  {
    name: 'hosts',
    summary: "List the manifest's app hosts with their status; drain one out of rotation or undrain it.",
    description:
      'Every docker call reaches a host over SSH (key only, pinned host keys: README "Several hosts").\n' +
      "A drain marks the host's servers down in the upstreams and reloads nginx drained: no deploy.",
    flags: {
      app: {
        type: 'string',
        value: '<dir|file>',
        description: 'the app manifest (a directory with app.yaml, or the file)',
      },
      drain: { type: 'string', value: '<host>', description: 'take this app host out of rotation (asks first)' },
      undrain: { type: 'string', value: '<host>', description: 'put this app host back into rotation' },
      'ssh-dir': { type: 'string', value: '<dir>', description: "the toolkit's SSH directory (default <VAR_DIR>/ssh)" },
      'ssh-key': { type: 'string', value: '<file>', description: "the private key for the hosts (default: ssh's own)" },
      parallel: { type: 'string', value: '<n>', default: '4', description: 'hosts asked at once (1-100)' },
      'publish-base': { type: 'number', value: '<port>', default: PUBLISH_BASE, description: 'first published port' },
      ...LOCK_FLAGS,
    },
    examples: [
      'npx zx scripts/hosts.ts --app examples/pyshop',
      'npx zx scripts/hosts.ts --app examples/pyshop --drain app-2 --yes',
      'npx zx scripts/hosts.ts --app examples/pyshop --undrain app-2 --dry-run',
    ],
    exitCodes: [
      [EXIT.OK, 'listed (every host OK, or drained) or drained/undrained'],
      [EXIT.FAILED, 'a host is CRITICAL (named), or nginx refused the new upstreams (the old file is back)'],
      [
        EXIT.REFUSED,
        'bad input (no --app, no hosts in the manifest, an unknown host, a drain leaving a service unserved); nothing changed',
      ],
      [EXIT.LOCKED, 'another deploy holds the lock'],
      [EXIT.INTERRUPTED, 'interrupted (SIGINT/SIGTERM/SIGHUP)'],
    ],
  },
  async (ctx) => {
    const f = ctx.flags
    const app = f.app as string | undefined
    if (!app)
      throw new UsageError(
        "Can't read the hosts: --app is required",
        'Pass --app <dir|file>, e.g. --app examples/pyshop.',
      )
    if (f.drain !== undefined && f.undrain !== undefined)
      throw new UsageError(
        "Can't drain and undrain at once: --drain and --undrain were both given",
        'Give one of them.',
      )
    const parallel = parseParallel(String(f.parallel))
    const env = loadEnv(ctx, { generateSecrets: false })
    const { ui, paths, config } = env
    const m = loadManifest(app, { target: config.target })
    if (!m.hosts)
      throw new UsageError(
        `Can't list the hosts of ${m.name}: its manifest names no hosts (everything runs on this machine)`,
        'Add hosts: to the manifest (README "Several hosts").',
      )
    const ssh = {
      dir: (f['ssh-dir'] as string | undefined) ?? path.join(paths.varDir, 'ssh'),
      identityFile: f['ssh-key'] as string | undefined,
    }
    const state = drainedFile(paths)
    const publishBase = f['publish-base'] as number
    const action = f.drain !== undefined ? 'drain' : f.undrain !== undefined ? 'undrain' : undefined
    if (action) {
      const host = String(f[action])
      return runOperation(ctx, env, {
        action: `host-${action}`,
        describe: `${action} ${host}`,
        plan: async () => {
          const drained = nextDrained(m, readDrained(state), action, host)
          const steps = [
            `write the upstreams with ${drained.length ? `${drained.join(', ')} down` : 'every host up'}`,
            'nginx -t (the previous upstreams put back if refused)',
            'reload nginx drained (Connection: close around the reload)',
            `record the drained hosts in ${state}`,
          ]
          return { drained, steps }
        },
        execute: (plan) =>
          applyDrained(m, stackBalancer(createShell(ui), config, paths), plan.drained, state, { publishBase }),
        report: (plan) =>
          ui.success(
            `${host} ${action === 'drain' ? 'is out of rotation' : 'is back in rotation'}; drained: ${plan.drained.join(', ') || 'none'}.`,
          ),
        json: (plan, r) => ({ action, host, drained: plan.drained, changed: r?.changed ?? null }),
      })
    }
    writeSshFiles(m.hosts, ssh)
    const mh: MultiHost = {
      manifest: m,
      ssh,
      project: m.name,
      dir: path.join(paths.varDir, 'hosts'),
      parallel,
      publishBase,
      drained: readDrained(state),
    }
    const live = readLive(paths.live).live
    const rows = await hostRows(mh)
    const health = hostsHealth(rows, live)
    for (const r of rows)
      ui.info(
        `${r.host.padEnd(12)} ${r.address.padEnd(16)} ${r.reachable ? `blue ${r.slots.blue.running}/${r.slots.blue.expected} green ${r.slots.green.running}/${r.slots.green.expected} ready ${r.slots[live].ready}` : 'unreachable'}${r.drained ? ' drained' : ''}`,
      )
    ui.info(health.summary)
    ui.result({ ok: health.status !== 'CRITICAL', live, status: health.status, hosts: rows, checks: health.checks })
    return health.status === 'CRITICAL' ? EXIT.FAILED : EXIT.OK
  },
)

#!/usr/bin/env -S npx zx
// The app hosts of a manifest (#16): without --drain/--undrain, one row per host (its containers of each
// slot, how many answer ready, drained or not) with the worst status; --drain <host> takes a host out of
// rotation and --undrain <host> puts it back, by the upstreams and a drained nginx reload, no deploy.
import { EXIT, runScript } from '../lib/cli.ts'
import { createShell } from '../lib/compose.ts'
import { UsageError } from '../lib/errors.ts'
import { parseParallel } from '../lib/hosts.ts'
import { PUBLISH_BASE } from '../lib/manifest/render-hosts.ts'
import { drainedFile, drainOnStack } from '../lib/multihost-balancer.ts'
import { nextDrained } from '../lib/multihost-drain.ts'
import { hostLine, hostsHealth } from '../lib/multihost-health.ts'
import { multiHostOf } from '../lib/multihost-platform.ts'
import { readDrained } from '../lib/multihost-upstreams.ts'
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
        description: 'the app manifest, a directory with app.yaml or the file (default: APP in env/.env.<target>)',
      },
      drain: { type: 'string', value: '<host>', description: 'take this app host out of rotation (asks first)' },
      undrain: { type: 'string', value: '<host>', description: 'put this app host back into rotation' },
      'ssh-dir': {
        type: 'string',
        value: '<dir>',
        description: "the toolkit's SSH directory (default HOSTS_SSH_DIR, else <VAR_DIR>/ssh)",
      },
      'ssh-key': {
        type: 'string',
        value: '<file>',
        description: "the private key for the hosts (default HOSTS_SSH_KEY, else ssh's own)",
      },
      parallel: { type: 'string', value: '<n>', default: '4', description: 'hosts asked at once (1-100)' },
      'publish-base': {
        type: 'number',
        value: '<port>',
        description: `first published port (default HOSTS_PUBLISH_BASE, else ${PUBLISH_BASE})`,
      },
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
        'bad input (no hosts in the manifest, an unknown host, a drain leaving a service unserved); nothing changed',
      ],
      [EXIT.LOCKED, 'another deploy holds the lock'],
      [EXIT.INTERRUPTED, 'interrupted (SIGINT/SIGTERM/SIGHUP)'],
    ],
  },
  async (ctx) => {
    const f = ctx.flags
    if (f.drain !== undefined && f.undrain !== undefined)
      throw new UsageError(
        "Can't drain and undrain at once: --drain and --undrain were both given",
        'Give one of them.',
      )
    if ((f.drain !== undefined || f.undrain !== undefined) && f['publish-base'] !== undefined)
      throw new UsageError(
        "Can't drain or undrain with --publish-base: the stack's upstreams are rendered from the target's HOSTS_PUBLISH_BASE, so another base would point nginx at ports nothing publishes",
        'Leave --publish-base out (set HOSTS_PUBLISH_BASE in env/.env.<target> to change the base for every script).',
      )
    const parallel = parseParallel(String(f.parallel))
    const env = loadEnv(ctx, { generateSecrets: false })
    const { ui, paths, config } = env
    const m = config.app
    if (!m.hosts)
      throw new UsageError(
        `Can't list the hosts of ${m.name}: its manifest names no hosts (everything runs on this machine)`,
        'Add hosts: to the manifest (README "Several hosts").',
      )
    // the target's HOSTS_* settings (lib/multihost-settings.ts), each overridden by its flag
    const base = multiHostOf(config, paths, m, parallel)
    const key = (f['ssh-key'] as string | undefined) ?? base.ssh.identityFile
    const ssh = { dir: (f['ssh-dir'] as string | undefined) ?? base.ssh.dir, ...(key ? { identityFile: key } : {}) }
    const state = drainedFile(paths)
    const publishBase = (f['publish-base'] as number | undefined) ?? base.publishBase
    const action = f.drain !== undefined ? 'drain' : f.undrain !== undefined ? 'undrain' : undefined
    if (action) {
      const host = String(f[action])
      return runOperation(ctx, env, {
        action: `host-${action}`,
        describe: `${action} ${host}`,
        plan: async () => {
          const drained = nextDrained(m, readDrained(state), action, host)
          const steps = [
            `record the drained hosts in ${state}: ${drained.join(', ') || 'none'}`,
            `render the stack's upstreams with ${drained.length ? `${drained.join(', ')} down` : 'every host up'}`,
            'nginx -t on the new includes (the recorded list put back if refused)',
            'swap them in and reload nginx drained (Connection: close around the reload)',
          ]
          return { drained, steps }
        },
        execute: (plan) => drainOnStack(createShell(ui), config, paths, plan.drained),
        report: (plan) =>
          ui.success(
            `${host} ${action === 'drain' ? 'is out of rotation' : 'is back in rotation'}; drained: ${plan.drained.join(', ') || 'none'}.`,
          ),
        json: (plan, r) => ({ action, host, drained: plan.drained, changed: r?.changed ?? null }),
      })
    }
    writeSshFiles(m.hosts, ssh)
    const mh: MultiHost = { ...base, ssh, publishBase }
    const live = readLive(paths.live).live
    const rows = await hostRows(mh)
    const health = hostsHealth(rows, live)
    for (const r of rows) ui.info(hostLine(r, live))
    ui.info(health.summary)
    ui.result({ ok: health.status !== 'CRITICAL', live, status: health.status, hosts: rows, checks: health.checks })
    return health.status === 'CRITICAL' ? EXIT.FAILED : EXIT.OK
  },
)

#!/usr/bin/env -S npx zx
// The quick start: a bare host to a running production stack and a blue-green release on it.
// bootstrap -> deploy 1.0.0 (built here) -> deploy 2.0.0 blue-green under a short load -> report.
// The stack stays running; the URLs and the rollback command are printed at the end.
import path from 'node:path'
import { startLoad, summarize } from '../bench/load.ts'
import { runScript } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { REPO_ROOT } from '../lib/config.ts'
import { OperationError } from '../lib/errors.ts'
import { run as runCommand } from '../lib/gateway.ts'
import { readState } from '../lib/state.ts'

await runScript(
  {
    name: 'demo',
    summary:
      'Bootstrap this host, deploy 1.0.0, then deploy 2.0.0 blue-green under a short load, and leave the stack running.',
    flags: {
      'skip-bootstrap': { type: 'boolean', description: 'do not run scripts/bootstrap.ts first' },
    },
    examples: ['npm run demo', 'npx zx scripts/demo.ts --target staging'],
  },
  async (ctx) => {
    const { ui } = ctx
    const target = ctx.common.target
    const run = async (script: string, args: string[]) => {
      ui.info(ui.c.bold(`\n$ npx zx scripts/${script}.ts ${args.join(' ')}`))
      const p = await runCommand(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', `${script}.ts`), ...args],
        { cwd: REPO_ROOT, inherit: true, nothrow: true, timeoutMs: 60 * 60_000, killGraceMs: 120_000 },
      )
      if (!p.ok) throw new OperationError(`Can't finish the demo: ${script} exited ${p.code}`, 'See its output above.')
    }
    if (ctx.flags['skip-bootstrap'] !== true) await run('bootstrap', ['--target', target])
    const { config, paths } = loadEnv(ctx)
    const deployScript = target === 'staging' ? 'deploy-staging' : 'deploy-production'
    const live = () => {
      const s = readState(paths.state, config.target)
      return s.live ? (s.slots[s.live]?.version ?? null) : null
    }
    if (live() !== '1.0.0') await run(deployScript, ['--target', target, '--version', '1.0.0', '--build', '--yes'])
    const base = `https://${config.localAddr}:${config.ports.https}`
    ui.info(ui.c.bold(`\nDeploying 2.0.0 while a load runs against ${base} …`))
    const load = startLoad({ url: base, connections: 8, durationMs: 10 * 60_000, postRatio: 0.1 })
    try {
      await run(deployScript, ['--target', target, '--version', '2.0.0', '--build', '--yes'])
    } finally {
      load.stop()
    }
    const sum = summarize(await load.done)
    ui.info('')
    ui.table(
      ['during the release', ''],
      [
        ['requests', String(sum.requests)],
        ['failed', String(sum.failed)],
        [
          'answered by slot',
          Object.entries(sum.bySlot)
            .map(([s, n]) => `${s}: ${n}`)
            .join(', '),
        ],
        ['latency p50 / p99', `${sum.p50} ms / ${sum.p99} ms`],
      ],
    )
    ui.info('')
    ui.success(`The stack runs ${live()} (${target}). It stays up.`)
    ui.info(`  public:   ${base}/   (self-signed certificate: curl -k)`)
    ui.info(`  preview:  https://127.0.0.1:${config.ports.preview}/   (the idle slot)`)
    ui.info(`  status:   http://127.0.0.1:${config.ports.status}/nginx-health`)
    ui.info(`  where things stand:  npx zx scripts/status.ts --target ${target}`)
    if (target === 'production') ui.info('  roll back to 1.0.0:  npx zx scripts/rollback-production.ts --yes')
    ui.result({ ok: sum.failed === 0, live: live(), load: sum })
    return sum.failed === 0 ? 0 : 1
  },
)

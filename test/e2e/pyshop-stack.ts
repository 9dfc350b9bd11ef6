// The pyshop example (examples/pyshop) run from its manifest for e2e suites: its generated slot compose
// files on real Docker, the stack's real nginx image and configuration with the app's generated upstreams,
// zones and locations in place of the sample's, and the toolkit's include writer for the generated set.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { loadManifest } from '../../lib/manifest/load.ts'
import { renderSlotCompose } from '../../lib/manifest/render-compose.ts'
import { renderAppNginx } from '../../lib/manifest/render-nginx.ts'
import { writeNginxIncludes } from '../../lib/runtime-dir.ts'
import type { StickyMode } from '../../lib/day2/settings.ts'
import {
  BASE_IMAGE,
  buildOne,
  cleanupVarDir,
  prepare,
  removeProjects,
  REPO,
  request,
  testStack,
  waitFor,
} from './harness.ts'

/** the two releases the suites run (one image source, VERSION differs) */
export const PYSHOP_VERSIONS = ['e2e-a1', 'e2e-a2'] as const

/**
 * The settings of a pyshop target whose suite judges what runs where, not latency on a machine shared with other
 * suites: short windows, a 90 s deploy deadline, p95 limits of 5 s, a small free-disk floor.
 */
export const PYSHOP_TARGET_SETTINGS = {
  VERIFY_WINDOW: '2s',
  DEPLOY_TIMEOUT: '90s',
  SMOKE_REQUESTS: '50',
  SMOKE_MAX_P95_MS: '5000',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
}

export type PyshopAnswer = {
  status: number
  slot: string
  headers: Record<string, string | string[] | undefined>
  body: { service?: string; version?: string; replica?: string }
  text: string
}

/** prefix like dmst-app2; portBase 31 gives 31443 (https), 31444 (preview), 31080, 31090, 31432, 31379 */
export function pyshopStack(prefix: string, netPrefix: string, portBase: number) {
  const p = (n: string) => Number(`${portBase}${n}`)
  const ports = {
    https: p('443'),
    preview: p('444'),
    http: p('080'),
    status: p('090'),
    postgres: p('432'),
    redis: p('379'),
  }
  const o = { prefix, netPrefix, ports, versions: PYSHOP_VERSIONS }
  const stack = testStack(o)
  const s = stack.settings
  const nginx = `${o.prefix}-nginx`
  const live = path.join(s.varDir, 'live')
  const repoCopy = fs.mkdtempSync(path.join(os.tmpdir(), `${o.prefix}-repo-`))
  const manifest = loadManifest(path.join(REPO, 'examples/pyshop'), { target: 'production' })
  const sh = $({ nothrow: true, quiet: true })

  /** builds the images, prepares VAR_DIR and the nginx configuration with the app's generated files */
  async function setUp(): Promise<void> {
    await removeProjects(o.prefix)
    await sh`docker rm -f ${nginx}`
    for (const v of o.versions) await buildOne(`pyshop/app:${v}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
    await buildOne('dms/nginx:local', path.join(REPO, 'compose/images/nginx'), { BASE_IMAGE })
    await prepare(stack)
    // the two lines a manifest-driven stack changes: the app's upstreams and zones, its locations
    fs.cpSync(path.join(REPO, 'nginx'), repoCopy, { recursive: true })
    const gen = renderAppNginx(manifest, s.netPrefix)
    fs.mkdirSync(path.join(repoCopy, 'generated'))
    for (const [name, text] of Object.entries(gen)) fs.writeFileSync(path.join(repoCopy, 'generated', name), text)
    fs.writeFileSync(path.join(repoCopy, 'snippets/app-locations.conf'), gen['app-locations.conf'])
    const upstreams = path.join(repoCopy, 'conf.d/10-upstreams.conf')
    const text = fs.readFileSync(upstreams, 'utf8')
    assert.ok(text.includes('include /etc/nginx/dms/upstreams.conf;'))
    fs.writeFileSync(
      upstreams,
      text.replace(
        'include /etc/nginx/dms/upstreams.conf;',
        'include /etc/nginx/repo/generated/upstreams.conf;\ninclude /etc/nginx/repo/generated/app-zones.conf;',
      ),
    )
  }

  async function tearDown(): Promise<void> {
    await sh`docker rm -f ${nginx}`
    await removeProjects(o.prefix)
    fs.rmSync(repoCopy, { recursive: true, force: true })
    cleanupVarDir(stack)
  }

  /** compose up --wait of one slot's generated file */
  async function upSlot(slot: 'blue' | 'green', version: string): Promise<void> {
    const file = path.join(s.varDir, `app-${slot}.yml`)
    fs.writeFileSync(file, renderSlotCompose(manifest, { slot, version, netPrefix: s.netPrefix }))
    const env = { ...process.env, NETWORK_NAME: s.networkName, VAR_DIR: s.varDir }
    const r = await sh({
      env,
    })`docker compose -f ${file} -p ${`${o.prefix}-prod-${slot}`} up -d --wait --wait-timeout 120`
    assert.is(r.exitCode, 0, r.stderr)
  }

  /** the stack's nginx on the host network with the repo copy, markers, generated includes and certificate */
  async function startNginx(): Promise<void> {
    const mounts = [
      [repoCopy, '/etc/nginx/repo'],
      [live, '/etc/nginx/live'],
      [path.join(s.varDir, 'nginx'), '/etc/nginx/dms'],
      [path.join(s.varDir, 'certs'), '/etc/nginx/certs'],
    ].flatMap(([from, to]) => ['-v', `${from}:${to}:ro`])
    const run = await sh`docker run -d --name ${nginx} --network host ${mounts} dms/nginx:local`
    assert.is(run.exitCode, 0, run.stderr)
  }

  /** rewrites the generated includes with another split mode, checks them (nginx -t) and reloads nginx */
  async function setSticky(sticky: StickyMode): Promise<void> {
    writeNginxIncludes(path.join(s.varDir, 'nginx'), { ...s, sticky })
    const t = await sh`docker exec ${nginx} nginx -t -q`
    assert.is(t.exitCode, 0, t.stderr)
    const workers = async () => (await sh`docker exec ${nginx} ps -o pid= --ppid 1`).stdout.split(/\s+/).filter(Boolean)
    const old = await workers()
    const r = await sh`docker exec ${nginx} nginx -s reload`
    assert.is(r.exitCode, 0, r.stderr)
    // a reload is asynchronous: until the old workers are gone they may still take a new connection
    await waitFor('the old nginx workers to exit after the reload', async () => {
      const now = await workers()
      return now.length > 0 && !now.some((p) => old.includes(p)) ? true : undefined
    })
  }

  /** one GET (a new connection each time), from `localAddress` when given */
  async function get(url: string, headers: Record<string, string> = {}, localAddress?: string): Promise<PyshopAnswer> {
    const r = await request(url, { headers, localAddress })
    const json = r.status === 200 && String(r.headers['content-type']).startsWith('application/json')
    return {
      status: r.status,
      slot: String(r.headers['x-deploy-slot']),
      headers: r.headers,
      text: r.body,
      body: json ? r.json() : {},
    }
  }

  return { stack, settings: s, nginx, live, manifest, setUp, tearDown, upSlot, startNginx, setSticky, get }
}

// The generated files against the real components: `docker compose config` accepts the generated compose
// files, promtool the scrape jobs, and the host's nginx, running the generated upstreams, zones and locations in front of small HTTP
// servers (one per container address on 127.0.0.x), routes by longest prefix and host, applies the rate limit,
// hides the metrics path and adds X-Deploy-Slot itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { slotInstances } from '../../lib/manifest/allocate.ts'
import { loadManifest, parseManifest } from '../../lib/manifest/load.ts'
import { renderAccessoriesCompose, renderSlotCompose } from '../../lib/manifest/render-compose.ts'
import { renderAppNginx } from '../../lib/manifest/render-nginx.ts'
import { renderScrapeConfigs } from '../../lib/manifest/render-monitoring.ts'
import { ROOT } from '../helpers/run.ts'

const PORT = 31080
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-render-'))
const servers: http.Server[] = []
let nginx: ChildProcess | undefined

const shop = parseManifest(
  `name: shop
services:
  web: { image: acme/web, port: 8000, readiness: /healthz, metrics: /metrics, replicas: 2 }
  api: { image: acme/api, port: 9000, readiness: /ready }
  admin: { image: acme/admin, port: 9100, readiness: /ready }
routes:
  - { path: /, service: web }
  - { path: /api/, service: api }
  - { path: /api/login/, service: api, rate_limit: { rate: 1r/m, burst: 0 } }
  - { path: /api/, host: admin.example.test, service: admin }
rate_limit_page: { service: web, path: /too-many }
`,
  'shop.yaml',
)

/** GET through nginx; the answer's status, the server's name and X-Deploy-Slot */
function get(
  p: string,
  host = 'shop.test',
  localAddress = '127.0.0.1',
): Promise<{ status: number; who: string; slot: string | null }> {
  // node:http, not fetch: fetch does not send a Host header of our choosing
  return new Promise((resolve, reject) => {
    const o = { host: '127.0.0.1', port: PORT, path: p, headers: { host }, agent: false, localAddress }
    const req = http.get(o, (res) => {
      let who = ''
      res.on('data', (c) => {
        who += c
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, who, slot: (res.headers['x-deploy-slot'] as string) ?? null }),
      )
    })
    req.on('error', reject)
  })
}

async function waitUntil(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

test.after(async () => {
  nginx?.kill('SIGTERM')
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  fs.rmSync(tmp, { recursive: true, force: true })
})

test('docker compose accepts the generated slot and accessories files (DMS and a three-service app)', () => {
  const env = {
    ...process.env,
    NETWORK_NAME: 'manifest-render-net',
    VAR_DIR: tmp,
    POSTGRES_PORT: '15432',
    REDIS_PORT: '16379',
  }
  const dms = loadManifest(path.join(ROOT, 'examples/dms'))
  const files = {
    'dms-blue.yml': renderSlotCompose(dms, { slot: 'blue', version: 'v1', netPrefix: '172.29.99' }),
    'dms-acc.yml': renderAccessoriesCompose(dms, '172.29.99'),
    'shop-green.yml': renderSlotCompose(shop, { slot: 'green', version: 'v1', netPrefix: '172.29.99' }),
  }
  for (const [name, text] of Object.entries(files)) {
    fs.writeFileSync(path.join(tmp, name), text)
    const r = spawnSync(
      'docker',
      ['compose', '-f', path.join(tmp, name), '-p', 'manifest-render', 'config', '--quiet'],
      {
        env,
        encoding: 'utf8',
      },
    )
    assert.is(r.status, 0, `${name}: ${r.stderr}`)
  }
})

test('promtool accepts the generated scrape jobs (metrics path per target, blackbox readiness probes)', () => {
  const file = path.join(tmp, 'prometheus.yml')
  fs.writeFileSync(
    file,
    `global:\n  scrape_interval: 15s\n${renderScrapeConfigs(shop, '172.29.99', '172.29.99.1:9115')}`,
  )
  const r = spawnSync('promtool', ['check', 'config', file], { encoding: 'utf8' })
  assert.is(r.status, 0, r.stdout + r.stderr)
  assert.match(r.stdout, /SUCCESS/)
})

test('the host nginx runs the generated config: routes, host routes, rate limit, hidden metrics, slot header, readiness paths', async () => {
  for (const x of slotInstances(shop, 'blue')) {
    const s = http.createServer((req, res) => {
      // the 429 page answers 429 itself and names the zone nginx told it
      if (req.url === '/too-many') res.statusCode = 429
      const zone = req.headers['x-dms-ratelimit-zone']
      res.end(`${x.name} ${req.url}${zone ? ` zone=${zone}` : ''}`)
    })
    await new Promise<void>((r) => s.listen(x.service.port, `127.0.0.${x.octet}`, r))
    servers.push(s)
  }
  const snippets = path.join(tmp, 'snippets')
  fs.mkdirSync(snippets)
  fs.writeFileSync(path.join(snippets, 'security-headers-tls.conf'), 'add_header X-Deploy-Slot $slot always;\n')
  fs.writeFileSync(path.join(snippets, 'proxy-headers.conf'), 'proxy_set_header Host $host;\n')
  fs.writeFileSync(path.join(tmp, 'status-allow.conf'), 'allow 127.0.0.1;\n')
  for (const [name, text] of Object.entries(renderAppNginx(shop, '127.0.0', 4, snippets, tmp)))
    fs.writeFileSync(path.join(tmp, name), text)
  fs.writeFileSync(
    path.join(tmp, 'nginx.conf'),
    `pid ${tmp}/nginx.pid;\nerror_log ${tmp}/error.log;\nevents {}\nhttp {\n  access_log off;\n` +
      `  limit_req_status 429;\n  client_body_temp_path ${tmp}/body;\n  proxy_temp_path ${tmp}/proxy;\n  proxy_http_version 1.1;\n` +
      `  include ${tmp}/upstreams.conf;\n  include ${tmp}/app-zones.conf;\n` +
      `  server {\n    listen 127.0.0.1:${PORT};\n    set $slot blue;\n    add_header X-Deploy-Slot $slot always;\n` +
      `    include ${tmp}/app-locations.conf;\n  }\n}\n`,
  )
  const check = spawnSync('nginx', ['-t', '-p', tmp, '-c', path.join(tmp, 'nginx.conf')], { encoding: 'utf8' })
  assert.is(check.status, 0, check.stderr)
  nginx = spawn('nginx', ['-p', tmp, '-c', path.join(tmp, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' })
  await waitUntil('nginx to answer', async () => (await get('/api/x')).status === 200)

  assert.equal(await get('/api/docs'), { status: 200, who: 'api /api/docs', slot: 'blue' })
  assert.equal(await get('/api/docs', 'admin.example.test'), { status: 200, who: 'admin /api/docs', slot: 'blue' })
  const home = await Promise.all(Array.from({ length: 6 }, () => get('/')))
  assert.equal(new Set(home.map((h) => h.who)), new Set(['web-1 /', 'web-2 /']), 'both replicas serve')
  assert.is((await get('/metrics')).status, 404, 'the metrics path is not public')
  assert.is((await get('/api/metrics/')).status, 404, 'nor under another route prefix')
  assert.is((await get('/too-many')).status, 404, 'the 429 page is not public')
  assert.is((await get('/api/login/')).status, 200, 'the first login passes')
  const limited = await get('/api/login/')
  assert.is(limited.status, 429, 'the second within a minute is limited')
  assert.match(limited.who, /^web-[12] \/too-many zone=route2$/, "the app's 429 page answers, told the zone")
  assert.is(limited.slot, 'blue', 'the 429 carries the slot header too')
  // the toolkit's readiness path of each service, whatever the routes: the service's own readiness path
  assert.equal(await get('/__deploy/ready/api'), { status: 200, who: 'api /ready', slot: 'blue' })
  const web = await Promise.all(Array.from({ length: 4 }, () => get('/__deploy/ready/web')))
  assert.ok(
    web.every((w) => w.status === 200 && /^web-[12] \/healthz$/.test(w.who)),
    JSON.stringify(web),
  )
  const admin = await get('/__deploy/ready/admin')
  assert.equal([admin.status, admin.who], [200, 'admin /ready'])
  const outsider = await get('/__deploy/ready/api', 'shop.test', '127.0.0.2')
  assert.is(outsider.status, 403, 'only the status allow-list reaches the readiness paths')
})

test.run()

// The builders from a manifest, compared as values: compose YAML of a slot and of the accessories, addresses
// for any number of services and replicas, nginx upstreams and locations, Prometheus groups and probes.
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { appAddress } from '../../../lib/compose.ts'
import { loadConfig } from '../../../lib/config.ts'
import { slotInstances } from '../../../lib/manifest/allocate.ts'
import { loadManifest, parseManifest } from '../../../lib/manifest/load.ts'
import { renderAccessoriesCompose, renderSlotCompose, resolveValue } from '../../../lib/manifest/render-compose.ts'
import { renderAppLocations, renderAppUpstreams, renderAppZones } from '../../../lib/manifest/render-nginx.ts'
import { healthProbes, scrapeGroups } from '../../../lib/manifest/render-monitoring.ts'
import { renderAll } from '../../../lib/manifest/render-all.ts'
import { ROOT, tempEnvDir } from '../../helpers/run.ts'

const dms = loadManifest(path.join(ROOT, 'examples/dms'), { target: 'production' })
const config = loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir() }, generateSecrets: true })

const app = (services: string, extra = '') =>
  parseManifest(`name: shop\nservices:\n${services}routes:\n  - { path: /, service: web }\n${extra}`, 'shop.yaml')

test('DMS: the generated addresses are the ones the stack uses today (.11-.14 blue, .21-.24 green)', () => {
  for (const slot of ['blue', 'green'] as const)
    for (const x of slotInstances(dms, slot))
      assert.is(`${config.netPrefix}.${x.octet}`, appAddress(config, slot, x.service.name as never))
})

test('a slot compose file: one service per replica at its address, readiness as healthcheck, env resolved', () => {
  const y = parse(renderSlotCompose(dms, { slot: 'green', version: 'v2', netPrefix: '172.29.10' }))
  assert.equal(Object.keys(y.services), ['frontend', 'api', 'docs', 'main', 'release'])
  const api = y.services.api
  assert.is(api.image, 'dms/app:v2')
  assert.is(api.networks.app.ipv4_address, '172.29.10.22')
  assert.equal(api.healthcheck.test, ['CMD', 'curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:8080/ready'])
  assert.equal(
    [api.environment.ROLE, api.environment.PGHOST, api.environment.REDIS_PORT, api.environment.SLOT],
    ['api', '172.29.10.3', '6379', 'green'],
  )
  assert.equal(api.secrets, ['postgres_password', 'redis_password'])
  assert.equal(api.deploy.resources.limits, { cpus: '0.5', memory: '256m' })
  assert.equal(y.services.release.command, ['node', '/app/src/migrate.js', '--json'])
  assert.equal(y.services.release.profiles, ['release'])
  assert.equal(y.services.release.networks, { app: {} }, 'the one-off container takes a dynamic address')
  assert.equal(y.secrets.postgres_password, { file: '${VAR_DIR}/secrets/postgres_password' })
  assert.is(y.networks.app.external, true)
})

test('accessories compose: addresses .3 and .4, volumes and secrets declared; none for an app without', () => {
  const y = parse(renderAccessoriesCompose(dms, '172.29.10'))
  assert.equal(Object.keys(y.services), ['postgres', 'redis'])
  assert.is(y.services.postgres.networks.app.ipv4_address, '172.29.10.3')
  assert.is(y.services.redis.networks.app.ipv4_address, '172.29.10.4')
  assert.equal(Object.keys(y.volumes), ['pgdata', 'redisdata'])
  assert.equal(Object.keys(y.secrets), ['postgres_password', 'redis_password'])
  const none = parse(renderAccessoriesCompose(app('  web: { image: a/web, port: 8000, readiness: /h }\n'), '10.0.0'))
  assert.equal(none.services, {})
})

test('accessories compose: build from the manifest folder, published on loopback at a setting or a port, env resolved', () => {
  const pg = parse(renderAccessoriesCompose(dms, '172.29.10')).services.postgres
  assert.equal(pg.build, {
    context: path.join(ROOT, 'compose/images/postgres'),
    network: 'host',
    args: { BASE_IMAGE: '${BASE_IMAGE:-debian:bookworm-slim}' },
  })
  assert.equal(pg.ports, [
    '127.0.0.1:${POSTGRES_PORT:?POSTGRES_PORT is not set: the port postgres is published on (manifest publish:)}:5432',
  ])
  assert.is(pg.environment.POSTGRES_HBA_CIDR, '172.29.10.0/24', '${NETWORK_CIDR} is the app network')
  const shop = app(
    '  web: { image: a/web, port: 8000, readiness: /h, env: { CACHE: "${CACHE_HOST}:${CACHE_PORT}" } }\n',
    'accessories:\n  cache: { image: "memcached:1.6", port: 11211, publish: "21211", env: { PEERS: "${NETWORK_CIDR}", X: "a$b" } }\n',
  )
  const cache = parse(renderAccessoriesCompose(shop, '10.0.0')).services.cache
  assert.is(cache.image, 'memcached:1.6')
  assert.is(cache.build, undefined, 'no build: the image is pulled when missing')
  assert.equal(cache.ports, ['127.0.0.1:21211:11211'])
  assert.equal(cache.environment, { PEERS: '10.0.0.0/24', X: 'a$$b' })
  assert.is(
    parse(renderSlotCompose(shop, { slot: 'blue', version: 'v1', netPrefix: '10.0.0' })).services.web.environment.CACHE,
    '10.0.0.3:11211',
  )
})

test('a service image built from two directories is refused at the second', () => {
  try {
    app(
      '  web: { image: a/web, port: 8000, readiness: /h, build: web }\n  api: { image: a/web, port: 9000, readiness: /h, build: api }\n',
    )
    assert.unreachable('refused')
  } catch (e) {
    assert.match(
      (e as Error).message,
      /shop\.yaml:4:\d+: services\.api\.build: image "a\/web" is built from "web" by another service; expected one build directory per image/,
    )
  }
})

test('accessory mistakes: a slot variable in its env, a publish that is no port or setting, a port out of range', () => {
  const bad = (acc: string) => {
    try {
      app(
        '  web: { image: a/web, port: 8000, readiness: /h }\n',
        `accessories:\n  cache: { image: "memcached:1.6", port: 11211, ${acc} }\n`,
      )
      return ''
    } catch (e) {
      return (e as Error).message
    }
  }
  assert.match(
    bad('env: { A: "${SLOT}" }'),
    /shop\.yaml:\d+:\d+: accessories\.cache\.env\.A: \$\{SLOT\} is not a toolkit variable; expected one of: NETWORK_CIDR, CACHE_HOST, CACHE_PORT/,
  )
  assert.match(bad('publish: MYSQL_PORT'), /"MYSQL_PORT" is not allowed; expected the host port on 127\.0\.0\.1/)
  assert.match(bad('publish: "70000"'), /port "70000" is out of range; expected a TCP port from 1 to 65535/)
  assert.match(bad('build: "../x y"'), /"\.\.\/x y" is not allowed; expected a directory with a Dockerfile/)
})

test('replicas: several containers of one service, all behind its upstream', () => {
  const m = app(
    '  web: { image: a/web, port: 8000, readiness: /h, replicas: 2 }\n  api: { image: a/api, port: 9000, readiness: /ok }\n',
  )
  const blue = slotInstances(m, 'blue')
  assert.equal(
    blue.map((x) => [x.name, x.octet]),
    [
      ['web-1', 11],
      ['web-2', 12],
      ['api', 13],
    ],
  )
  const up = renderAppUpstreams(m, '10.1.2')
  assert.match(
    up,
    'upstream web_green {\n    server 10.1.2.21:8000 max_fails=0;\n    server 10.1.2.22:8000 max_fails=0;\n',
  )
  assert.match(up, 'upstream api_blue {\n    server 10.1.2.13:9000 max_fails=0;\n')
  assert.equal(
    healthProbes(m, '10.1.2', 'green').map((p) => [p.name, p.url]),
    [
      ['web-green-1', 'http://10.1.2.21:8000/h'],
      ['web-green-2', 'http://10.1.2.22:8000/h'],
      ['api-green', 'http://10.1.2.23:9000/ok'],
    ],
  )
})

test('more than 9 containers a slot: blue from .64, green from .96, no overlap with monitoring (.50-.59)', () => {
  const m = app(
    '  web: { image: a/web, port: 8000, readiness: /h, replicas: 6 }\n  api: { image: a/api, port: 9000, readiness: /ok, replicas: 6 }\n',
  )
  const blue = slotInstances(m, 'blue').map((x) => x.octet)
  const green = slotInstances(m, 'green').map((x) => x.octet)
  assert.equal([blue[0], blue.at(-1), green[0], green.at(-1)], [64, 75, 96, 107])
  assert.ok([...blue, ...green].every((o) => o < 128 && (o < 50 || o > 59)))
})

test('env values: toolkit variables resolve, every other $ is escaped for compose', () => {
  const vars = { SLOT: 'blue', DB_HOST: '10.0.0.3' }
  assert.is(resolveValue('postgres://${DB_HOST}/x', vars), 'postgres://10.0.0.3/x')
  assert.is(resolveValue('5$ or $$ or ${OTHER}', vars), '5$$ or $$ or $${OTHER}')
  const y = parse(
    renderSlotCompose(app('  web: { image: a/web, port: 8000, readiness: /h, env: { S: "${SLOT}-$HOME" } }\n'), {
      slot: 'blue',
      version: 'v1',
      netPrefix: '10.0.0',
    }),
  )
  assert.is(y.services.web.environment.S, 'blue-$$HOME')
})

test('nginx locations: longest prefix first, rate limits with their zones, host routes pick by $host', () => {
  const text = renderAppLocations(dms)
  const order = [...text.matchAll(/^location (.+) \{$/gm)].map((x) => x[1])
  assert.equal(order, [
    '~ ^(/api/auth/metrics|/api/metrics|/docs/metrics|/app/metrics|/metrics)/?$',
    '= /__ratelimited',
    '= /__deploy/ready/frontend',
    '= /__deploy/ready/api',
    '= /__deploy/ready/docs',
    '= /__deploy/ready/main',
    '/api/auth/',
    '/docs/',
    '/api/',
    '/app/',
    '/',
    '@app_ratelimited',
    '@app_ratelimited_own',
  ])
  assert.match(text, 'location /api/auth/ {\n    set $app_service api;\n    limit_req zone=auth burst=5 nodelay;\n')
  // the toolkit's readiness path of a service: the status allow-list only, no retry on another replica
  assert.match(
    text,
    'location = /__deploy/ready/docs {\n    include /etc/nginx/dms/status-allow.conf;\n    deny all;\n    proxy_next_upstream off;\n    proxy_pass http://docs_$slot/ready;\n}\n',
  )
  assert.match(renderAppZones(dms), 'limit_req_zone $binary_remote_addr zone=auth:10m rate=5r/s;\n')
  // a route without a zone name gets route<index>
  const unnamed = app(
    '  web: { image: a/web, port: 8000, readiness: /h }\n',
    '  - { path: /x/, service: web, rate_limit: { rate: 1r/s } }\n',
  )
  assert.match(renderAppZones(unnamed), 'zone=route1:10m rate=1r/s;\n')
  const hosts = app(
    '  web: { image: a/web, port: 8000, readiness: /h }\n  admin: { image: a/adm, port: 8001, readiness: /h }\n',
    '  - { path: /x/, host: admin.example.com, service: admin, allow: [10.0.0.0/8] }\n',
  )
  assert.match(
    renderAppLocations(hosts),
    'location /x/ {\n    set $app_service web;\n    if ($host = "admin.example.com") { set $app_service admin; }\n    allow 10.0.0.0/8;\n    deny all;\n',
  )
})

test('Prometheus: one group per container with its metrics path, slot, role and instance', () => {
  const groups = scrapeGroups(dms, '172.29.10')
  assert.is(groups.length, 8)
  assert.equal(groups[5], {
    targets: ['172.29.10.22:8080'],
    labels: { __metrics_path__: '/metrics', slot: 'green', role: 'api', instance: 'api-green' },
  })
})

test('renderAll names every generated file', () => {
  assert.equal(Object.keys(renderAll(dms, { netPrefix: '172.29.10', version: 'v1' })), [
    'compose/slot-blue.yml',
    'compose/slot-green.yml',
    'compose/accessories.yml',
    'nginx/upstreams.conf',
    'nginx/app-zones.conf',
    'nginx/app-locations.conf',
    'monitoring/app-scrape.yml',
    'health/probes.json',
  ])
})

test.run()

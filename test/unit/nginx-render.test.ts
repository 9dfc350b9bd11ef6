// The generated nginx includes: the file set, listeners, the app's upstreams, zones and locations, allow-lists.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadManifest } from '../../lib/manifest/load.ts'
import { REPO_ROOT } from '../../lib/config.ts'
import {
  checkCidr,
  INCLUDE_FILES,
  renderNginxIncludes,
  renderUpstreams,
  type NginxSettings,
} from '../../lib/nginx-render.ts'

const base: NginxSettings = {
  netPrefix: '172.29.10',
  listenAddr: '127.0.0.1',
  httpsPort: 8443,
  httpPort: 8080,
  previewPort: 8444,
  statusPort: 8090,
  statusAllow: ['127.0.0.1/32', '172.29.10.0/24'],
  app: loadManifest(`${REPO_ROOT}/examples/dms`, { target: 'production' }),
}
const pyshop = loadManifest(`${REPO_ROOT}/examples/pyshop`, { target: 'production' })

function throwsWith(fn: () => unknown, ...parts: string[]): void {
  try {
    fn()
  } catch (err) {
    const msg = (err as Error).message
    for (const p of parts)
      assert.ok(msg.includes(p), `message ${JSON.stringify(msg)} should include ${JSON.stringify(p)}`)
    return
  }
  assert.unreachable('expected an error')
}

test('renders exactly the documented include files', () => {
  const files = renderNginxIncludes(base)
  assert.equal(Object.keys(files).sort(), [...INCLUDE_FILES].sort())
})

test('listen files carry address, port and TLS', () => {
  const f = renderNginxIncludes(base)
  assert.ok(f['listen-public.conf'].includes('listen 127.0.0.1:8443 ssl http2;\n'))
  assert.ok(f['listen-preview.conf'].includes('listen 127.0.0.1:8444 ssl http2;\n'))
  assert.ok(f['listen-status.conf'].includes('listen 127.0.0.1:8090;\n'))
  assert.ok(f['listen-http.conf'].includes('listen 127.0.0.1:8080;\n'))
  assert.ok(f['listen-http.conf'].includes('set $https_port_suffix ":8443";'))
})

test('port 443 needs no suffix in redirects', () => {
  const f = renderNginxIncludes({ ...base, httpsPort: 443, httpPort: 80, listenAddr: '0.0.0.0' })
  assert.ok(f['listen-http.conf'].includes('set $https_port_suffix "";'))
  assert.ok(f['listen-public.conf'].includes('listen 0.0.0.0:443 ssl http2;'))
})

test("upstreams: the app's, one per service and slot at its allocated addresses (the DMS keeps .11-.24:8080)", () => {
  const text = renderNginxIncludes(base)['upstreams.conf']
  assert.is((text.match(/^upstream /gm) ?? []).length, 8)
  assert.ok(text.includes('upstream api_blue {\n    server 172.29.10.12:8080 max_fails=0;\n    keepalive 16;'))
  assert.ok(text.includes('upstream frontend_green {\n    server 172.29.10.21:8080 max_fails=0;'))
  assert.ok(text.includes('upstream main_green {\n    server 172.29.10.24:8080'))
  assert.ok(renderUpstreams('10.1.2', base.app, 4).includes('server 10.1.2.13:8080 max_fails=0;\n    keepalive 4;'))
  const shop = renderUpstreams('10.1.2', pyshop)
  assert.ok(
    shop.includes(
      'upstream web_green {\n    server 10.1.2.21:8000 max_fails=0;\n    server 10.1.2.22:8000 max_fails=0;',
    ),
  )
  assert.ok(shop.includes('upstream api_blue {\n    server 10.1.2.13:9000 max_fails=0;'))
})

test("upstreams.conf carries the app's rate-limit zones (and the zone map for its 429 page)", () => {
  const dms = renderNginxIncludes(base)['upstreams.conf']
  assert.ok(dms.includes('limit_req_zone $binary_remote_addr zone=auth:10m rate=5r/s;'))
  assert.ok(dms.includes('limit_req_zone $binary_remote_addr zone=api:10m rate=3000r/s;'))
  assert.ok(
    dms.includes('map $uri $app_ratelimit_zone {\n    ~^/api/auth/ auth;\n    ~^/api/ api;\n    default other;\n}'),
  )
  const shop = renderUpstreams('10.1.2', pyshop)
  assert.ok(shop.includes('zone=route1:10m rate=2000r/s;'))
  assert.not.match(shop, /app_ratelimit_zone/)
})

test("app-locations.conf: the app's routes, its metrics hidden under every prefix, its 429 page", () => {
  const dms = renderNginxIncludes(base)['app-locations.conf']
  assert.ok(
    dms.includes(
      'location ~ ^(/api/auth/metrics|/api/metrics|/docs/metrics|/app/metrics|/metrics)/?$ {\n    return 404;',
    ),
  )
  assert.ok(dms.includes('location = /__ratelimited {\n    return 404;'))
  assert.ok(dms.includes('proxy_pass http://frontend_$slot/__ratelimited;'))
  assert.ok(dms.includes('location /api/auth/ {\n    set $app_service api;\n    limit_req zone=auth burst=5 nodelay;'))
  const shop = renderNginxIncludes({ ...base, app: pyshop })['app-locations.conf']
  assert.ok(shop.includes('location / {\n    set $app_service web;'))
  assert.not.match(shop, /__ratelimited|metrics|frontend/)
  assert.ok(
    shop.includes('location @app_ratelimited {\n    include /etc/nginx/repo/snippets/security-headers-tls.conf;'),
  )
})

test('no app: upstreams and locations files hold no directive', () => {
  const f = renderNginxIncludes({ ...base, app: undefined })
  for (const name of ['upstreams.conf', 'app-locations.conf'] as const)
    assert.equal(
      f[name].split('\n').filter((l) => l && !l.startsWith('#')),
      [],
    )
})

test('status allow-list normalises bare addresses to /32', () => {
  const text = renderNginxIncludes({ ...base, statusAllow: ['127.0.0.1', '10.0.0.0/8'] })['status-allow.conf']
  assert.ok(text.includes('allow 127.0.0.1/32;\nallow 10.0.0.0/8;\n'))
  assert.not.match(text, /^deny/m)
})

test('empty allow-list renders no allow lines', () => {
  const text = renderNginxIncludes({ ...base, statusAllow: [] })['status-allow.conf']
  assert.not.match(text, /^allow/m)
})

test('keepalive is configurable and validated', () => {
  assert.ok(renderNginxIncludes({ ...base, keepalive: 64 })['upstreams.conf'].includes('keepalive 64;'))
  throwsWith(() => renderNginxIncludes({ ...base, keepalive: 0 }), 'keepalive')
  throwsWith(() => renderNginxIncludes({ ...base, keepalive: 2.5 }), 'keepalive')
})

test('rejects bad net prefixes, naming the value', () => {
  for (const bad of ['172.29', '172.29.10.0', '172.29.300', '172.29.10; }', 'a.b.c', '', '01x.1.1']) {
    throwsWith(() => renderNginxIncludes({ ...base, netPrefix: bad }), 'netPrefix', JSON.stringify(bad))
  }
})

test('rejects bad listen addresses', () => {
  for (const bad of ['localhost', '127.0.0.1:80', '127.0.0.1;include /etc/passwd', '256.0.0.1', '::1']) {
    throwsWith(() => renderNginxIncludes({ ...base, listenAddr: bad }), 'listenAddr')
  }
})

test('rejects bad ports', () => {
  for (const bad of [0, 65536, -1, 80.5, NaN, '8443' as unknown as number]) {
    throwsWith(() => renderNginxIncludes({ ...base, httpsPort: bad }), 'httpsPort')
  }
  throwsWith(() => renderNginxIncludes({ ...base, statusPort: 70000 }), 'statusPort', '70000')
})

test('rejects two listeners on one port', () => {
  throwsWith(() => renderNginxIncludes({ ...base, previewPort: 8443 }), 'httpsPort', 'previewPort', '8443')
})

test('rejects bad CIDRs, including injection attempts', () => {
  const bads = [
    '127.0.0.1/33',
    '127.0.0.1/',
    '10.0.0.1/8',
    'all',
    '127.0.0.1/32; allow all',
    '1.2.3.4/24/1',
    '1.2.3.4 /32',
  ]
  for (const bad of bads) {
    throwsWith(
      () => renderNginxIncludes({ ...base, statusAllow: ['127.0.0.1/32', bad] }),
      'statusAllow[1]',
      JSON.stringify(bad),
    )
  }
  throwsWith(() => renderNginxIncludes({ ...base, statusAllow: 'x' as unknown as string[] }), 'statusAllow')
})

test('checkCidr accepts network addresses', () => {
  assert.is(checkCidr('0.0.0.0/0'), '0.0.0.0/0')
  assert.is(checkCidr('192.168.0.0/16'), '192.168.0.0/16')
  assert.is(checkCidr('172.29.10.7'), '172.29.10.7/32')
})

test('no rendered value can carry nginx syntax', () => {
  const files = renderNginxIncludes(base)
  // the app's files are rendered from the manifest, whose names and paths its checker bounds (test/unit/manifest);
  // the split is fixed text per mode (a checked value of three): no setting's value reaches it
  const skipped = ['app-locations.conf', 'gradual-split.conf']
  for (const [name, text] of Object.entries(files).filter(([n]) => !skipped.includes(n))) {
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue
      assert.match(
        line,
        /^(\s*[a-z_]+ [^;{}]*;|upstream [a-z_]+ \{|map \$uri \$[a-z_]+ \{|\s+~\^\/[A-Za-z0-9._~/%\\-]* [a-z0-9_]+;|\}|\s*set \$[a-z_]+ "[:0-9]*";|add_header Strict-Transport-Security "[A-Za-z0-9=; -]+" always;)$/,
        `${name}: ${line}`,
      )
    }
  }
})

test.run()

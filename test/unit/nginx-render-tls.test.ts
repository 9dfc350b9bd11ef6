// server_name from the domains, the refusing default servers, and the HSTS header.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderNginxIncludes, type NginxSettings } from '../../lib/nginx-render.ts'

const base: NginxSettings = {
  netPrefix: '172.29.10',
  listenAddr: '127.0.0.1',
  httpsPort: 8443,
  httpPort: 8080,
  previewPort: 8444,
  statusPort: 8090,
  statusAllow: ['127.0.0.1/32'],
}

test('no domains: server_name _ and no refusing default server', () => {
  const f = renderNginxIncludes(base)
  assert.match(f['server-names.conf']!, /^server_name _;$/m)
  assert.not.match(f['unknown-host.conf']!, /server \{/)
})

test('domains: the names plus the local addresses the probes use; default servers answer 444 on HTTPS and HTTP', () => {
  const f = renderNginxIncludes({ ...base, listenAddr: '10.0.0.5', domains: ['a.example.com', 'www.example.com'] })
  assert.match(
    f['server-names.conf']!,
    /^server_name a\.example\.com www\.example\.com localhost 127\.0\.0\.1 10\.0\.0\.5;$/m,
  )
  const u = f['unknown-host.conf']!
  assert.ok(u.includes('listen 10.0.0.5:8443 ssl http2 default_server;'), u)
  assert.ok(u.includes('listen 10.0.0.5:8080 default_server;'), u)
  assert.is((u.match(/return 444;/g) ?? []).length, 2)
})

test('a domain that could inject nginx syntax is refused', () => {
  for (const bad of ['a.example.com; return 200', 'A.example.com', 'x', 'a..b']) {
    try {
      renderNginxIncludes({ ...base, domains: [bad] })
      assert.unreachable(`accepted ${bad}`)
    } catch (e) {
      assert.match((e as Error).message, /Invalid nginx setting domains\[0\]=.*expected a lowercase host name/)
    }
  }
})

test('HSTS: default two years with includeSubDomains; preload and no subdomains as set', () => {
  assert.match(
    renderNginxIncludes(base)['hsts.conf']!,
    /add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;/,
  )
  assert.match(
    renderNginxIncludes({ ...base, hsts: { maxAge: 31536000, includeSubdomains: true, preload: true } })['hsts.conf']!,
    /"max-age=31536000; includeSubDomains; preload"/,
  )
  assert.match(
    renderNginxIncludes({ ...base, hsts: { maxAge: 600, includeSubdomains: false, preload: false } })['hsts.conf']!,
    /"max-age=600" always;/,
  )
})

test.run()

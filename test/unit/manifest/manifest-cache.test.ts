// Cached routes (routes[].cache): the cache zone in the http-context include, the caching lines of the route's
// location with a key of slot, release and URL, nothing for an app without cache; a cached route in front of a
// readiness path refused; the release marker (live/.release-<slot>) nginx's keys read.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { manifestProblems, parseManifest } from '../../../lib/manifest/load.ts'
import { cacheDir, renderAppLocations, renderAppZones } from '../../../lib/manifest/render-nginx.ts'
import { readLive, setLive, setReleaseMarker } from '../../../lib/nginx.ts'

const yaml = (routes: string, readiness = '/healthz') =>
  `name: shop\nservices:\n  web: { image: acme/web, port: 8000, readiness: ${readiness} }\nroutes:\n${routes}`
const shop = (routes: string) => parseManifest(yaml(routes), 'shop.yaml')
const cached = shop('  - { path: /, service: web }\n  - { path: /static/, service: web, cache: 10m }\n')

/** the lines of one location block */
function block(text: string, header: string): string[] {
  const start = text.indexOf(`${header} {\n`)
  assert.ok(start >= 0, `no ${header} in\n${text}`)
  return text.slice(start, text.indexOf('\n}\n', start)).split('\n').slice(1)
}

test('a cached route: its zone in the http context, caching in its location keyed on slot, release and URL', () => {
  assert.is(cached.routes[1]!.cache, '10m')
  assert.match(
    renderAppZones(cached),
    /\nproxy_cache_path \/var\/cache\/nginx\/shop levels=1:2 keys_zone=shop_cache:10m max_size=256m inactive=1d use_temp_path=off;\n$/,
  )
  assert.is(cacheDir(cached), '/var/cache/nginx/shop')
  const text = renderAppLocations(cached)
  assert.equal(block(text, 'location /static/'), [
    '    set $app_service web;',
    '    proxy_cache shop_cache;',
    '    root $dms_release_dir; # only for $realpath_root: the release directory of $slot',
    '    proxy_cache_key "$slot $realpath_root $scheme://$host$request_uri";',
    '    proxy_cache_valid 200 301 302 10m;',
    '    proxy_cache_lock on;',
    '    proxy_cache_use_stale updating;',
    '    proxy_pass http://${app_service}_$slot;',
  ])
  assert.not.match(block(text, 'location /').join('\n'), /proxy_cache/, 'the uncached route is not cached')
  // server level, before the locations: the slot's release directory when its link exists, else the live dir
  assert.ok(
    text.includes(
      'set $dms_release_dir /etc/nginx/live;\nif (-d /etc/nginx/live/.release-$slot) { set $dms_release_dir /etc/nginx/live/.release-$slot; }\n',
    ),
    text,
  )
})

test('an app without a cached route: no zone, no release lines, no caching', () => {
  const plain = shop('  - { path: /, service: web }\n')
  assert.not.match(renderAppZones(plain), /proxy_cache/)
  assert.not.match(renderAppLocations(plain), /proxy_cache|dms_release_dir/)
})

test('cache: a duration with a unit; a cached route answering a readiness path is refused, located', () => {
  const bad = manifestProblems(
    yaml('  - { path: /, service: web }\n  - { path: /static/, service: web, cache: 10 }\n'),
    's.yaml',
  )
  assert.is(bad.length, 1, bad.join('\n'))
  assert.match(bad[0]!, /^s\.yaml:6:\d+: routes\.1\.cache: got number 10; expected .*"10m"/)
  const ready = manifestProblems(yaml('  - { path: /, service: web, cache: 1h }\n'), 's.yaml')
  assert.equal(ready.length, 1, ready.join('\n'))
  assert.match(
    ready[0]!,
    /^s\.yaml:5:\d+: routes\.0\.cache: route "\/" is cached and answers the readiness path of web \/healthz, so probes would read the cache; expected cache only on routes of static assets/,
  )
  const own = manifestProblems(
    yaml('  - { path: /, service: web, cache: 1h }\n  - { path: /healthz, service: web }\n'),
    's.yaml',
  )
  assert.equal(own, [], 'a readiness path with a route of its own is not cached')
})

test('setReleaseMarker: live/.release-<slot> links to .releases/<version>, swapped; unused versions pruned; never a routing marker', () => {
  const live = fs.mkdtempSync(path.join(os.tmpdir(), 'release-marker-'))
  try {
    setLive(live, 'blue')
    setReleaseMarker(live, 'blue', 'v1')
    setReleaseMarker(live, 'green', 'v2')
    const target = (slot: string) => fs.realpathSync(path.join(live, `.release-${slot}`))
    assert.is(target('blue'), fs.realpathSync(path.join(live, '.releases', 'v1')))
    assert.is(target('green'), fs.realpathSync(path.join(live, '.releases', 'v2')))
    assert.is(
      fs.readlinkSync(path.join(live, '.release-blue')),
      path.join('.releases', 'v1'),
      'relative: same in the container',
    )
    setReleaseMarker(live, 'blue', 'v3')
    assert.equal(fs.readdirSync(path.join(live, '.releases')).sort(), ['v2', 'v3'], 'v1 is no longer used')
    assert.equal(readLive(live), { live: 'blue', markers: ['blue'], gradual: null })
    assert.equal(
      fs.readdirSync(live).sort(),
      ['.release-blue', '.release-green', '.releases', 'blue'],
      'no temporary link left',
    )
    try {
      setReleaseMarker(live, 'blue', '../x')
      assert.unreachable('a version with a path in it is refused')
    } catch (e) {
      assert.match((e as Error).message, /version/)
    }
  } finally {
    fs.rmSync(live, { recursive: true, force: true })
  }
})

test.run()

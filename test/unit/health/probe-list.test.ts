// What health-check probes, from a manifest (lib/health/probe-list.ts): each service's public readiness request
// as nginx routes it, every replica of a slot by address, and the accessories by kind.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadManifest } from '../../../lib/manifest/load.ts'
import type { Manifest, Route } from '../../../lib/manifest/types.ts'
import { accessoryProbes, publicProbes, servedBy, slotProbes, storeChecks } from '../../../lib/health/probe-list.ts'
import { ROOT } from '../../helpers/run.ts'

const dms = loadManifest('examples/dms', { cwd: ROOT, target: 'production' })
const pyshop = loadManifest('examples/pyshop', { cwd: ROOT, target: 'production' })

test('the DMS: each service at its route prefix plus /ready, the URLs health-check asked before the manifest', () => {
  assert.equal(publicProbes(dms), [
    { service: 'frontend', path: '/ready' },
    { service: 'api', path: '/api/ready' },
    { service: 'docs', path: '/docs/ready' },
    { service: 'main', path: '/app/ready' },
  ])
  assert.equal(storeChecks(dms), ['postgres', 'redis'])
  assert.equal(accessoryProbes(dms, '172.29.9'), [])
})

test('pyshop: its own readiness paths; no stores; a slot probe per replica, named by service and replica', () => {
  assert.equal(publicProbes(pyshop), [
    { service: 'web', path: '/healthz' },
    { service: 'api', path: '/api/ready' },
  ])
  assert.equal(storeChecks(pyshop), [])
  assert.equal(
    slotProbes(pyshop, '172.29.9', 'green').map((p) => `${p.name} ${p.url}`),
    [
      'web-green-1 http://172.29.9.21:8000/healthz',
      'web-green-2 http://172.29.9.22:8000/healthz',
      'api-green http://172.29.9.23:9000/ready',
    ],
  )
})

const route = (path: string, service: string, more: Partial<Route> = {}): Route => ({ path, service, ...more })

test('nginx routing: longest prefix, a host route for its host only, a route that hides the readiness path skipped', () => {
  const routes = [route('/', 'web'), route('/api/', 'api'), route('/api/', 'admin', { host: 'admin.example' })]
  assert.is(servedBy(routes, '/api/ready'), 'api')
  assert.is(servedBy(routes, '/api/ready', 'admin.example'), 'admin')
  assert.is(servedBy(routes, '/x'), 'web')
  assert.is(servedBy([route('/api/', 'api')], '/ready'), undefined)
  const svc = (name: string, readiness: string) => ({ ...dms.services[0]!, name, readiness })
  const m: Manifest = {
    ...dms,
    services: [svc('web', '/ready'), svc('api', '/health/'), svc('admin', '/ready'), svc('worker', '/ready')],
    routes: [
      route('/', 'web'),
      route('/api/', 'api'),
      route('/api/health/', 'web'),
      route('/v2/', 'api'),
      route('/api/', 'admin', { host: 'admin.example' }),
    ],
  }
  assert.equal(publicProbes(m), [
    { service: 'web', path: '/ready' },
    // /api/health/ is the web's: the api is asked through /v2/
    { service: 'api', path: '/v2/health/' },
    { service: 'admin', path: '/api/ready', host: 'admin.example' },
  ])
})

test('an IP-restricted route is used only when no open route reaches the service', () => {
  const m: Manifest = {
    ...dms,
    routes: [
      ...dms.routes.filter((r) => r.service !== 'docs'),
      route('/d/', 'docs', { allow: ['10.0.0.0/8'] }),
      route('/docs2/', 'docs'),
    ].map((r) => r),
  }
  assert.equal(
    publicProbes(m).find((p) => p.service === 'docs'),
    { service: 'docs', path: '/docs2/ready' },
  )
})

test('other accessories are probed by TCP at their allocated address', () => {
  const m: Manifest = { ...pyshop, accessories: [{ ...dms.accessories[1]!, name: 'queue', port: 5672 }] }
  assert.equal(accessoryProbes(m, '172.29.9'), [{ name: 'queue', host: '172.29.9.3', port: 5672 }])
})

test.run()

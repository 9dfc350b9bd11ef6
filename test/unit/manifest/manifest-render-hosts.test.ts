// Rendering across hosts (#16), pure: each app host's slot compose publishes the containers it runs on its
// private address at ports allocated the same way on every host; nginx's upstreams list every host's
// containers, a drained host's marked down; a drain that would leave a service with no host is refused.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { parseManifest } from '../../../lib/manifest/load.ts'
import { renderAccessoriesCompose } from '../../../lib/manifest/render-compose.ts'
import { accessoryProbes } from '../../../lib/health/probe-list.ts'
import {
  accessoryHosts,
  accessoryVariables,
  renderHostAccessoriesCompose,
  drainProblems,
  hostInstances,
  publishedPort,
  renderHostSlotCompose,
  renderHostsNginx,
  renderHostUpstreams,
} from '../../../lib/manifest/render-hosts.ts'
import { renderAppLocations } from '../../../lib/manifest/render-nginx.ts'
import { ROOT } from '../../helpers/run.ts'

const PYSHOP = fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8')
const DMS = fs.readFileSync(path.join(ROOT, 'examples/dms/app.yaml'), 'utf8')
const HOSTS = [
  'hosts:',
  '  - { name: lb, address: 10.0.0.10, role: balancer }',
  '  - { name: app-1, address: 10.0.0.11 }',
  '  - { name: app-2, address: 10.0.0.12 }',
].join('\n')
const pyshop = parseManifest(`${PYSHOP}\n${HOSTS}\n`, 'app.yaml', 'production')
const [, h1, h2] = pyshop.hosts!
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field
const yaml = (text: string): any => parse(text)

test('ports: one per service x replica x slot, blue from the base, green 32 above, the same on every host', () => {
  assert.equal([publishedPort('blue', 0), publishedPort('blue', 2), publishedPort('green', 0)], [20000, 20002, 20032])
  assert.equal(
    hostInstances(pyshop, 'green', 35100).map((x) => `${x.host.name} ${x.name} ${x.address}:${x.port}`),
    [
      'app-1 web-1 10.0.0.11:35132',
      'app-1 web-2 10.0.0.11:35133',
      'app-1 api 10.0.0.11:35134',
      'app-2 web-1 10.0.0.12:35132',
      'app-2 web-2 10.0.0.12:35133',
      'app-2 api 10.0.0.12:35134',
    ],
  )
})

test("an app host's slot compose: its containers, published on its private address, on the project's own network", () => {
  const doc = yaml(renderHostSlotCompose(pyshop, h2!, { slot: 'blue', version: '1.2.0', publishBase: 35100 }))
  assert.equal(Object.keys(doc.services), ['web-1', 'web-2', 'api'])
  assert.equal(doc.services['web-2'].ports, ['10.0.0.12:35101:8000'])
  assert.equal(doc.services.api.ports, ['10.0.0.12:35102:9000'])
  assert.is(doc.services.api.image, 'pyshop/app:1.2.0')
  assert.equal(doc.services.api.labels['dms.slot'], 'blue')
  assert.is(doc.services.api.networks, undefined, 'no static address on the stack network: published instead')
  assert.is(doc.networks, undefined)
  assert.match(renderHostSlotCompose(pyshop, h2!, { slot: 'blue', version: '1.2.0' }), /host app-2\. Do not edit/)
})

test('services: [...] restricts a host; the release runs on the first host that has its service; accessories by address', () => {
  const m = parseManifest(
    `${DMS.replace(/\ntargets:[\s\S]*$/, '\n')}\nhosts:\n  - { name: lb, address: 10.0.0.10, role: balancer }\n` +
      '  - { name: web, address: 10.0.0.11, services: [frontend, docs] }\n  - { name: core, address: 10.0.0.12, services: [api, main] }\n',
    'app.yaml',
  )
  const web = yaml(renderHostSlotCompose(m, m.hosts![1]!, { slot: 'green', version: 'v2' }))
  const core = yaml(renderHostSlotCompose(m, m.hosts![2]!, { slot: 'green', version: 'v2' }))
  assert.equal(Object.keys(web.services), ['frontend', 'docs'])
  assert.equal(Object.keys(core.services), ['api', 'main', 'release'])
  assert.equal(core.services.release.profiles, ['release'])
  assert.is(core.services.release.ports, undefined)
  const env = JSON.stringify(core.services.api.environment)
  assert.ok(env.includes('10.0.0.10'), `the accessories are reached on the balancer's address: ${env}`)
  assert.not.match(env, /"0\.0\.0\./, 'no placeholder address is left')
})

test("upstreams list every host's containers for a service, replica by replica across hosts; a drained host's are down", () => {
  const text = renderHostUpstreams(pyshop, { publishBase: 35100 })
  const block = (name: string, t = text) =>
    t.slice(t.indexOf(`upstream ${name} {`), t.indexOf('}', t.indexOf(`upstream ${name} {`)))
  assert.equal(block('web_blue').match(/server \S+/g), [
    'server 10.0.0.11:35100',
    'server 10.0.0.12:35100',
    'server 10.0.0.11:35101',
    'server 10.0.0.12:35101',
  ])
  assert.equal(block('api_green').match(/server \S+/g), ['server 10.0.0.11:35134', 'server 10.0.0.12:35134'])
  assert.not.match(text, / down;/)
  const drained = renderHostUpstreams(pyshop, { publishBase: 35100, drained: ['app-1'] })
  assert.equal(block('api_blue', drained).match(/server \S+[^;]*;/g), [
    'server 10.0.0.11:35102 max_fails=1 fail_timeout=5s down;',
    'server 10.0.0.12:35102 max_fails=1 fail_timeout=5s;',
  ])
  assert.is((drained.match(/ down;/g) ?? []).length, 6, 'every app-1 server in both slots')
  assert.match(drained, /drained: app-1/)
})

test('the locations are the one-host ones: the switch is still the marker ($slot) on the balancer', () => {
  const files = renderHostsNginx(pyshop, { publishBase: 35100 })
  assert.is(files['app-locations.conf'], renderAppLocations(pyshop))
  assert.match(files['app-locations.conf'], /proxy_pass http:\/\/\$\{app_service\}_\$slot;/)
})

test('a drain is refused for an unknown host, the balancer, or when it leaves a service with no host', () => {
  assert.equal(drainProblems(pyshop, [h1!.name]), [])
  assert.equal(drainProblems(pyshop, ['lb']), ['lb is not an app host of pyshop; expected one of: app-1, app-2'])
  assert.equal(drainProblems(pyshop, ['app-1', 'app-2']), [
    'no host would serve web: every app host running it would be drained',
    'no host would serve api: every app host running it would be drained',
  ])
})

const WITH_KV = parseManifest(
  `${PYSHOP.replace(/\ntargets:[\s\S]*$/, '\n')}
accessories:
  kv: { image: pyshop/kv:1, port: 7000, env: { SERVICE: kv } }
  cache: { image: pyshop/cache:1, port: 7001, publish: "37001" }
${HOSTS.replace('address: 10.0.0.12 }', 'address: 10.0.0.12, accessories: [kv] }')}
`,
  'app.yaml',
  'production',
)

test("accessories across hosts: the balancer's core file has its own, published on its address; an app host's file has its", () => {
  assert.equal(
    accessoryHosts(WITH_KV).map((h) => [h.name, h.accessories]),
    [['app-2', ['kv']]],
  )
  assert.equal(accessoryVariables(WITH_KV), {
    KV_HOST: '10.0.0.12',
    KV_PORT: '7000',
    CACHE_HOST: '10.0.0.10',
    CACHE_PORT: '7001',
  })
  const core = yaml(renderAccessoriesCompose(WITH_KV, '172.29.9'))
  assert.equal(Object.keys(core.services), ['cache'], "the core here runs only the balancer's accessories")
  assert.equal(core.services.cache.ports, ['127.0.0.1:37001:7001', '10.0.0.10:7001:7001'])
  const onHost = renderHostAccessoriesCompose(WITH_KV, WITH_KV.hosts![2]!)
  assert.match(onHost, /accessories on host app-2\. Do not edit/)
  const doc = yaml(onHost)
  assert.equal(Object.keys(doc.services), ['kv'])
  assert.equal(doc.services.kv.ports, ['10.0.0.12:7000:7000'])
  assert.is(doc.services.kv.image, 'pyshop/kv:1')
  assert.equal(doc.services.kv.environment, { SERVICE: 'kv' })
  assert.is(doc.services.kv.networks, undefined, "on the host project's own network")
  assert.is(doc.networks, undefined)
  assert.equal(
    accessoryProbes(WITH_KV, '172.29.9'),
    [
      { name: 'kv', host: '10.0.0.12', port: 7000 },
      { name: 'cache', host: '10.0.0.10', port: 7001 },
    ],
    'health-check asks each where the app reaches it',
  )
})

test("an app host's slot compose names an accessory on another host by that host's address", () => {
  const withEnv = parseManifest(
    `${PYSHOP.replace(/\ntargets:[\s\S]*$/, '\n').replace('READY_PATH: /healthz }', "READY_PATH: /healthz, KV: '${KV_HOST}:${KV_PORT}' }")}
accessories:
  kv: { image: pyshop/kv:1, port: 7000 }
${HOSTS.replace('address: 10.0.0.12 }', 'address: 10.0.0.12, accessories: [kv] }')}
`,
    'app.yaml',
    'production',
  )
  const doc = yaml(renderHostSlotCompose(withEnv, withEnv.hosts![1]!, { slot: 'green', version: '2' }))
  assert.is(doc.services['web-1'].environment.KV, '10.0.0.12:7000')
})

test.run()

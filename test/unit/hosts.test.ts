// The host model: validation (every problem at once, exit 2), --parallel, the Docker environment
// of a host, and the parallel runner (limit, order, the failed host named).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT, OperationError, RefusedError, UsageError } from '../../lib/errors.ts'
import {
  LOCAL_HOST,
  allSucceeded,
  dockerEnv,
  hostLabel,
  parseHosts,
  parseParallel,
  runOnHosts,
  validAddress,
  type Host,
  type HostResult,
} from '../../lib/hosts.ts'

const app = (name: string, address: string): Host => ({ name, address, user: 'root', port: 22, role: 'app' })

test('parseHosts fills the defaults: user root, port 22, role app', () => {
  const hosts = parseHosts([
    { name: 'lb', address: '10.0.0.1', role: 'balancer' },
    { name: 'app-1', address: 'app1.example.com', user: 'deploy', port: 2222 },
  ])
  assert.equal(hosts, [
    { name: 'lb', address: '10.0.0.1', user: 'root', port: 22, role: 'balancer' },
    { name: 'app-1', address: 'app1.example.com', user: 'deploy', port: 2222, role: 'app' },
  ])
})

test('parseHosts reports every problem at once, naming the entry and the fix (exit 2)', () => {
  try {
    parseHosts([
      { name: 'Lb', address: '-oProxyCommand=sh', role: 'boss', colour: 'red' },
      { name: 'app-1', address: '10.0.0.300', port: 70000, user: 'root;reboot' },
      { name: 'app-1', address: '10.0.0.2' },
      'host-3',
    ])
    assert.unreachable('bad hosts accepted')
  } catch (e) {
    assert.instance(e, UsageError)
    const err = e as UsageError
    assert.is(err.exitCode, EXIT.REFUSED)
    for (const part of [
      'hosts[0]: unknown key "colour"',
      'hosts[0] (Lb): name "Lb" must be lower-case',
      'hosts[0] (Lb): address "-oProxyCommand=sh" is not an IPv4 address or a DNS name',
      'hosts[0] (Lb): role "boss" must be one of balancer, app',
      'hosts[1] (app-1): address "10.0.0.300"',
      'hosts[1] (app-1): user "root;reboot" is not a Unix user name',
      'hosts[1] (app-1): port "70000" must be a whole number from 1 to 65535',
      'hosts[3]: expected a mapping',
      'the name app-1 is used twice',
      '0 hosts have role balancer; exactly one must',
    ])
      assert.ok(err.message.includes(part), `missing: ${part}\n${err.message}`)
    assert.match(err.message, /^Can't use hosts: 10 problems:/)
  }
})

test('parseHosts refuses an empty list and one machine named twice', () => {
  for (const bad of [[], 'x', null]) {
    try {
      parseHosts(bad)
      assert.unreachable(`accepted ${JSON.stringify(bad)}`)
    } catch (e) {
      assert.instance(e, UsageError)
    }
  }
  try {
    parseHosts([
      { name: 'lb', address: '10.0.0.1', role: 'balancer' },
      { name: 'app', address: '10.0.0.1' },
    ])
    assert.unreachable('two names for one machine accepted')
  } catch (e) {
    assert.match((e as Error).message, /lb and app are both 10\.0\.0\.1:22; one machine is one host/)
  }
})

test('validAddress takes IPv4 and DNS names, nothing that ssh could read as an option or a user', () => {
  for (const ok of ['10.0.0.1', '172.29.50.11', 'app-1', 'app1.example.com']) assert.ok(validAddress(ok), ok)
  for (const bad of ['', '-p2222', 'root@x', 'a b', '1.2.3', '256.1.1.1', 'x;y', 'a..b', 'x\n'])
    assert.not.ok(validAddress(bad), bad)
})

test('parseParallel takes 1..100 and refuses anything else with the fix', () => {
  assert.is(parseParallel('1'), 1)
  assert.is(parseParallel('8'), 8)
  for (const bad of ['0', '-1', '101', '2.5', 'all', '']) {
    try {
      parseParallel(bad)
      assert.unreachable(`accepted ${bad}`)
    } catch (e) {
      assert.instance(e, UsageError)
      assert.match((e as Error).message, /--parallel/)
    }
  }
})

test('dockerEnv: this machine keeps its environment; another host goes through ssh:// and our ssh first on PATH', () => {
  assert.equal(dockerEnv(LOCAL_HOST, '/var/dms/ssh', '/usr/bin'), {})
  assert.equal(
    dockerEnv({ ...app('app-1', '10.0.0.5'), user: 'deploy', port: 2222 }, '/var/dms/ssh', '/usr/bin:/bin'),
    {
      DOCKER_HOST: 'ssh://deploy@10.0.0.5:2222',
      PATH: '/var/dms/ssh/bin:/usr/bin:/bin',
    },
  )
  assert.is(hostLabel(LOCAL_HOST), 'local (this machine)')
  assert.is(hostLabel(app('app-1', '10.0.0.5')), 'app-1 (root@10.0.0.5:22)')
})

test('runOnHosts keeps to the limit, keeps the order and never rejects', async () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'].map((n, i) => app(n, `10.0.0.${i + 1}`))
  let now = 0
  let most = 0
  const gates: Array<() => void> = []
  const running = runOnHosts(hosts, 2, async (h) => {
    now++
    most = Math.max(most, now)
    await new Promise<void>((res) => gates.push(res))
    now--
    if (h.name === 'c') throw new Error('no space left on device')
    return h.name.toUpperCase()
  })
  // release the waiting calls one at a time until all five have run
  for (let released = 0; released < hosts.length; released++) {
    while (gates.length === 0) await new Promise((res) => setImmediate(res))
    assert.ok(now <= 2, `at most 2 at once, saw ${now}`)
    gates.shift()!()
  }
  const results = await running
  assert.is(most, 2)
  assert.equal(
    results.map((r) => [r.host.name, r.ok]),
    [
      ['a', true],
      ['b', true],
      ['c', false],
      ['d', true],
      ['e', true],
    ],
  )
  try {
    allSucceeded(results, 'start the release')
    assert.unreachable('a failed host was not reported')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.is((e as Error).message, "Can't start the release on 1 of 5 hosts (c):\n  c: no space left on device")
  }
  assert.equal(allSucceeded(results.slice(0, 2), 'x'), ['A', 'B'])
})

test('allSucceeded: refused (exit 2) only when every failed host refused before running anything', () => {
  const [a, b] = [app('a', '10.0.0.1'), app('b', '10.0.0.2')]
  const refused = { host: a, ok: false as const, error: new RefusedError("Can't x on host a: key changed"), ms: 1 }
  const failed = { host: b, ok: false as const, error: new OperationError("Can't x on host b: daemon down"), ms: 1 }
  const ok = { host: b, ok: true as const, value: 1, ms: 1 }
  const codeOf = (rs: Array<HostResult<number>>) => {
    try {
      allSucceeded(rs, 'x')
      return 0
    } catch (e) {
      return (e as OperationError).exitCode
    }
  }
  assert.is(codeOf([refused, ok]), EXIT.REFUSED)
  assert.is(codeOf([refused, failed]), EXIT.FAILED)
  assert.is(codeOf([ok]), 0)
})

test('runOnHosts with limit 1 runs one host after another', async () => {
  const order: string[] = []
  const hosts = ['a', 'b', 'c'].map((n, i) => app(n, `10.0.0.${i + 1}`))
  await runOnHosts(hosts, 1, async (h) => {
    order.push(`start ${h.name}`)
    await new Promise((res) => setImmediate(res))
    order.push(`end ${h.name}`)
  })
  assert.equal(order, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
})

test.run()

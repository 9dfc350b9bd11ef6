// Smoke checks as data: a check becomes probe options, and an answer is judged by status (the probe), slot
// header (nginx's X-Deploy-Slot), body text and JSON field. Pure; the real run is in test/e2e/app2.test.ts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ProbeResult } from '../../../lib/probe.ts'
import { answerFields, checkProbe, fillReferences, judge } from '../../../lib/manifest/smoke-checks.ts'
import type { SmokeCheck } from '../../../lib/manifest/types.ts'

const check: SmokeCheck = {
  name: 'create',
  method: 'POST',
  path: '/api/items',
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
  status: 201,
  jsonField: 'id',
}
const target = { baseUrl: 'https://127.0.0.1:8444', headers: { 'X-DMS-Slot': 'green' }, slot: 'green' }
const answer = (body: string, slot = 'green'): ProbeResult => ({
  name: 'create',
  ok: true,
  latencyMs: 3,
  detail: '201',
  status: 201,
  headers: { 'x-deploy-slot': slot },
  body,
})

test('a check becomes probe options: url, method, merged headers, body, expected status', () => {
  assert.equal(checkProbe(check, target), {
    name: 'create',
    url: 'https://127.0.0.1:8444/api/items',
    method: 'POST',
    headers: { 'X-DMS-Slot': 'green', 'content-type': 'application/json' },
    body: '{"a":1}',
    expectStatus: 201,
    insecure: true,
    timeoutMs: 5000,
    keepBody: true,
  })
})

test('judge: the JSON field, the slot header, the body text', () => {
  assert.ok(judge(check, target, answer('{"id":7}')).ok)
  assert.equal(judge(check, target, answer('{"name":7}')).detail, 'the answer has no JSON field "id"')
  assert.equal(judge(check, target, answer('oops')).detail, 'the answer is not JSON')
  assert.equal(judge(check, target, answer('{"id":7}', 'blue')).detail, 'answered by slot blue, expected green')
  const text = { ...check, jsonField: undefined, bodyContains: 'hello' }
  assert.ok(judge(text, target, answer('say hello')).ok)
  assert.equal(judge(text, target, answer('bye')).detail, 'the answer does not contain "hello"')
  const failed = { ...answer('{}'), ok: false, detail: 'status 500, expected 201' }
  assert.is(judge(check, target, failed), failed, 'a failed probe stays as it is')
})

test('{json:<field>}: filled from the latest earlier answer carrying it, or the missing fields named', () => {
  const read = { ...check, name: 'read', method: 'GET', path: '/api/items/{json:id}?v={json:v}', body: 'x {json:id}' }
  const seen = { ...answerFields('{"id": 7, "v": "a b", "tags": [1]}'), ...answerFields('not json') }
  assert.equal(seen, { id: '7', v: 'a b' }, 'scalar top-level fields only')
  assert.equal(fillReferences(read, seen), { ...read, path: '/api/items/7?v=a%20b', body: 'x 7' })
  assert.equal(fillReferences(read, { id: '7' }), { missing: ['v'] })
  assert.equal(fillReferences(check, {}), check, 'a check without references is unchanged')
})

test.run()

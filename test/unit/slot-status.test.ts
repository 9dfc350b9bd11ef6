// A slot's summary is about the app's own compose services (config.app): every replica must run and be
// healthy; a container of another name does not count, a missing one is named. A release records its
// pinned image for each of those services.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ServiceState } from '../../lib/compose.ts'
import { releaseImages } from '../../lib/create.ts'
import { summarizeServices } from '../../lib/platform.ts'
import { switchable } from '../../lib/switch.ts'

const c = (service: string, state = 'running', health = 'healthy'): ServiceState => ({
  service,
  name: `p-${service}-1`,
  state,
  health,
  exitCode: state === 'exited' ? 1 : 0,
  image: 'shop/app:v1',
})
const expected = ['web-1', 'web-2', 'api']

test('every replica running and healthy: running and healthy', () => {
  assert.equal(summarizeServices([c('web-1'), c('web-2'), c('api')], expected), {
    running: true,
    healthy: true,
    problems: [],
  })
})

test('a replica missing, one exited, one unhealthy: each named', () => {
  const s = summarizeServices([c('web-1', 'exited'), c('api', 'running', 'unhealthy'), c('frontend')], expected)
  assert.is(s.running, false)
  assert.is(s.healthy, false)
  assert.equal(s.problems, ['web-1: exited (exit 1)', 'web-2: not created', 'api: unhealthy'])
})

test('switchable: "starting" is no verdict, a missing replica still refuses', () => {
  const status = {
    slot: 'green' as const,
    version: 'v1',
    services: [c('web-1', 'running', 'starting'), c('api', 'running', 'starting')],
    expected,
    ...summarizeServices([c('web-1', 'running', 'starting'), c('api', 'running', 'starting')], expected),
  }
  const s = switchable(status)
  assert.equal(s.problems, ['web-2: not created'])
  assert.is(s.healthy, false)
})

test('releaseImages: the pinned reference for every app service; a tag only: none recorded', () => {
  const pinned = { tag: 'v1', ref: 'shop/app@sha256:abc', digest: 'sha256:abc', source: 'pulled' as const }
  assert.equal(releaseImages(pinned, expected), {
    'web-1': 'shop/app@sha256:abc',
    'web-2': 'shop/app@sha256:abc',
    api: 'shop/app@sha256:abc',
  })
  assert.is(releaseImages({ ...pinned, ref: 'shop/app:v1', digest: '' }, expected), undefined)
})

test.run()

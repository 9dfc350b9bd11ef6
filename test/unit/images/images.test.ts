// Images from a registry, the pure parts: reference parsing, the digest that pins an image, the
// retry policy (what is retried, the waits), which local images retention removes, which recorded
// digest a rollback runs, and the registry keys of the configuration.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../../lib/config.ts'
import { buildStatus, renderStatus } from '../../../lib/health/status-view.ts'
import { UsageError } from '../../../lib/errors.ts'
import { keptReleases, keptRefs, recordedImage } from '../../../lib/images/recorded.ts'
import { parseImageRef, pickRepoDigest, shortDigest } from '../../../lib/images/ref.ts'
import { pruneChoice } from '../../../lib/images/prune.ts'
import { countLayers } from '../../../lib/images/registry.ts'
import { backoffDelays, classifyRegistryError, shouldRetry } from '../../../lib/images/retry.ts'
import { emptyState, type Release } from '../../../lib/model.ts'
import { tempEnvDir } from '../../helpers/run.ts'

const D1 = `sha256:${'a'.repeat(64)}`
const D2 = `sha256:${'b'.repeat(64)}`
const REPO = '127.0.0.1:32500/dms/app'

test('parseImageRef: registry host only when the first part has a dot, a port or is localhost', () => {
  assert.equal(parseImageRef('127.0.0.1:32500/dms/app:v1'), {
    registry: '127.0.0.1:32500',
    repo: REPO,
    tag: 'v1',
    digest: '',
  })
  assert.equal(parseImageRef(`${REPO}@${D1}`), { registry: '127.0.0.1:32500', repo: REPO, tag: '', digest: D1 })
  assert.equal(parseImageRef('dms/app:v1'), { registry: '', repo: 'dms/app', tag: 'v1', digest: '' })
  assert.is(parseImageRef('localhost/x/y').registry, 'localhost')
  assert.is(parseImageRef('registry.example.com/team/app').registry, 'registry.example.com')
  assert.is(parseImageRef('127.0.0.1:32500/dms/app').tag, '', 'a port is not a tag')
  try {
    parseImageRef('dms/app@sha256:short')
    assert.unreachable('a short digest is refused')
  } catch (e) {
    assert.match((e as Error).message, /sha256:<64 hex digits>/)
  }
})

test('pickRepoDigest: the digest of our repository, not of another one the image was also pushed to', () => {
  const digests = [`other.example.com/dms/app@${D2}`, `${REPO}@${D1}`]
  assert.is(pickRepoDigest(digests, REPO), D1)
  assert.is(pickRepoDigest(digests, 'dms/app'), '', 'never pushed under this name: no pin')
  assert.is(pickRepoDigest([], REPO), '')
  assert.is(shortDigest(`${REPO}@${D1}`), 'sha256:aaaaaaaaaaaa')
  assert.is(shortDigest(''), '-')
})

test('classifyRegistryError: a missing tag and a refused login are answers; network failures are retried', () => {
  assert.is(
    classifyRegistryError('Error response from daemon: manifest for x:v9 not found: manifest unknown'),
    'missing',
  )
  assert.is(
    classifyRegistryError(
      'Error response from daemon: Get "http://127.0.0.1:32500/v2/": unauthorized: authentication required',
    ),
    'auth',
  )
  assert.is(
    classifyRegistryError('Get "http://127.0.0.1:32500/v2/": dial tcp 127.0.0.1:32500: connect: connection refused'),
    'network',
  )
  assert.is(classifyRegistryError('error pulling image configuration: unexpected EOF'), 'network')
  assert.is(classifyRegistryError('received unexpected HTTP status: 503 Service Unavailable'), 'network')
  assert.is(classifyRegistryError('invalid reference format'), 'other')
})

test('retry policy: doubling waits capped, only network failures, never past the deadline or the try count', () => {
  const p = { attempts: 5, baseMs: 1000, maxMs: 4000 }
  assert.equal(backoffDelays(p), [1000, 2000, 4000, 4000])
  assert.equal(backoffDelays({ ...p, attempts: 1 }), [])
  assert.is(shouldRetry('network', 1, p, 60_000), 1000)
  assert.is(shouldRetry('network', 3, p, 60_000), 4000)
  assert.is(shouldRetry('network', 5, p, 60_000), null, 'no try after the last')
  assert.is(shouldRetry('network', 2, p, 1500), null, 'a wait that ends past the deadline is not taken')
  assert.is(shouldRetry('missing', 1, p, 60_000), null)
  assert.is(shouldRetry('auth', 1, p, 60_000), null)
})

test('countLayers: new and already present layers from docker pull output', () => {
  const out = 'v1: Pulling from dms/app\nabc: Already exists\ndef: Pull complete\n123: Pull complete\nDigest: x\n'
  assert.equal(countLayers(out), { newLayers: 2, presentLayers: 1 })
})

const rel = (version: string, digest?: string, extra: Partial<Release> = {}): Release => ({
  version,
  slot: 'blue',
  deployedAt: '2026-01-01T00:00:00Z',
  deployedBy: 'ci',
  ...(digest ? { images: { api: `${REPO}@${digest}`, frontend: `${REPO}@${digest}` } } : {}),
  ...extra,
})

test('recordedImage: the newest record of the version wins; none recorded: empty', () => {
  const s = emptyState('production')
  s.releases = [rel('v1', D2), rel('v2'), rel('v1', D1)]
  assert.is(recordedImage(s, 'v1'), `${REPO}@${D1}`)
  assert.is(recordedImage(s, 'v2'), '')
  assert.is(recordedImage(s, 'v9'), '')
  s.slots.green = rel('v3', D2, { slot: 'green' })
  assert.is(recordedImage(s, 'v3'), `${REPO}@${D2}`, 'a slot record counts too')
})

test('pruneChoice: keeps images of kept releases (by digest or tag) and in use; removes the rest of our repository only', () => {
  const s = emptyState('production')
  s.releases = [rel('v1', D1), rel('v2'), rel('v3'), rel('v4')]
  s.slots.blue = rel('v1', D1)
  const kept = keptReleases(s, 2)
  assert.equal(kept.map((r) => r.version).sort(), ['v1', 'v3', 'v4'])
  const keep = keptRefs(kept, REPO)
  assert.ok(keep.has(`${REPO}@${D1}`) && keep.has(`${REPO}:v4`))
  const images = [
    { id: 'i1', repoTags: [`${REPO}:moved`], repoDigests: [`${REPO}@${D1}`] },
    { id: 'i2', repoTags: [`${REPO}:v2`], repoDigests: [`${REPO}@${D2}`] },
    { id: 'i3', repoTags: [`${REPO}:v4`], repoDigests: [] },
    { id: 'i4', repoTags: [`${REPO}:old`], repoDigests: [] },
    { id: 'i5', repoTags: ['dms/nginx:local'], repoDigests: [] },
  ]
  assert.equal(pruneChoice(images, REPO, keep, new Set(['i4'])), [`${REPO}:v2`, `${REPO}@${D2}`])
  assert.equal(pruneChoice(images, REPO, keep, new Set()), [`${REPO}:v2`, `${REPO}@${D2}`, `${REPO}:old`])
})

const strong = { POSTGRES_PASSWORD: 'Qm9vdGggc3Ryb25nIHNlY3JldA', REDIS_PASSWORD: 'aW5kZWVkIGEgc3Ryb25nIG9uZQ' }
const load = (extra: Record<string, string>) =>
  loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir(), ...strong, ...extra } })

test('config: registry keys parsed; the password is masked; no registry by default', () => {
  assert.is(load({}).registry.server, '')
  const c = load({
    REGISTRY: '127.0.0.1:32500',
    APP_IMAGE: `${REPO}`,
    REGISTRY_USER: 'ci',
    REGISTRY_PASSWORD: 'pw-9f2c1e7b',
    PULL_TIMEOUT: '90s',
  })
  assert.is(c.registry.server, '127.0.0.1:32500')
  assert.is(c.registry.username, 'ci')
  assert.is(c.registry.pullTimeoutMs, 90_000)
  assert.is(c.registry.pullAttempts, 3)
  assert.ok(c.registry.dockerConfig.endsWith('/docker-config'))
  assert.ok(c.secrets.includes('pw-9f2c1e7b'), 'the registry password is masked in every output')
})

test('config: an image outside the registry, a user without password, a bad host: exit 2 naming the key', () => {
  const refused = (extra: Record<string, string>, re: RegExp) => {
    try {
      load(extra)
    } catch (e) {
      assert.instance(e, UsageError)
      assert.is((e as UsageError).exitCode, 2)
      assert.match((e as Error).message, re)
      return
    }
    assert.unreachable(`expected ${JSON.stringify(extra)} to be refused`)
  }
  refused(
    { REGISTRY: '127.0.0.1:32500', APP_IMAGE: 'dms/app' },
    /APP_IMAGE=dms\/app is not in REGISTRY 127\.0\.0\.1:32500/,
  )
  refused(
    { REGISTRY: '127.0.0.1:32500', APP_IMAGE: REPO, REGISTRY_USER: 'ci' },
    /REGISTRY_USER needs REGISTRY_PASSWORD/,
  )
  refused({ REGISTRY: 'http://x' }, /REGISTRY="http:\/\/x" is not valid/)
  refused({ REGISTRY_USER: 'ci' }, /REGISTRY is empty/)
})

test('status shows the tag and the short digest a release recorded', () => {
  const state = emptyState('production')
  state.slots.green = rel('v2', D1, { slot: 'green' })
  state.slots.blue = rel('v1', undefined)
  const v = buildStatus({
    target: 'production',
    state,
    markerLive: 'green',
    gradual: null,
    containers: [],
    lock: { held: false },
    audit: [],
    now: new Date(),
  })
  assert.is(v.slots[1]!.recorded?.digest, 'sha256:aaaaaaaaaaaa')
  const text = renderStatus(v, new Date())
  assert.match(text, /green LIVE +v2 sha256:aaaaaaaaaaaa \(deployed/)
  assert.match(text, /blue +idle +v1 \(deployed/)
})

test.run()

// The Prometheus text format: escaping, special values, rendering, parsing back, the textfile writer, promtool.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  counter,
  escapeHelp,
  escapeLabelValue,
  formatValue,
  gauge,
  MetricsError,
  parseMetrics,
  renderFamily,
  renderMetrics,
  textfileName,
  writeTextfile,
  type MetricFamily,
} from '../../lib/metrics.ts'

const sample: MetricFamily[] = [
  gauge('dms_health_check_status', 'Result of each check: 0 ok, 1 warning, 2 critical, 3 unknown.', [
    { labels: { check: 'nginx' }, value: 0 },
    { labels: { check: 'api "blue"\\path\nnext' }, value: 2 },
  ]),
  counter('dms_deploy_total', 'Deploys by target and outcome.', [
    { labels: { target: 'production', outcome: 'succeeded' }, value: 3 },
    { labels: { target: 'production', outcome: 'failed' }, value: 0 },
  ]),
  gauge('dms_health_check_last_run_timestamp_seconds', 'Unix time of the last health check run.', [
    { value: 1717171717.5 },
  ]),
  {
    name: 'dms_probe_duration_seconds',
    help: 'Probe durations with a backslash \\ and\na newline in help.',
    type: 'histogram',
    samples: [
      { suffix: '_bucket', labels: { le: '0.1' }, value: 1 },
      { suffix: '_bucket', labels: { le: '+Inf' }, value: 2 },
      { suffix: '_sum', value: 0.35 },
      { suffix: '_count', value: 2 },
    ],
  },
]

test('escapes label values: backslash, quote, newline', () => {
  assert.is(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd')
  assert.is(escapeLabelValue('plain'), 'plain')
})

test('escapes help text: backslash and newline, not quotes', () => {
  assert.is(escapeHelp('say "hi"\\ \nbye'), 'say "hi"\\\\ \\nbye')
})

test('formats special values', () => {
  assert.is(formatValue(NaN), 'NaN')
  assert.is(formatValue(Infinity), '+Inf')
  assert.is(formatValue(-Infinity), '-Inf')
  assert.is(formatValue(-0), '0')
  assert.is(formatValue(1.5e-7), '1.5e-7')
  assert.is(formatValue(42), '42')
})

test('renders HELP, TYPE and samples in order', () => {
  const text = renderFamily(sample[0]!)
  assert.is(
    text,
    '# HELP dms_health_check_status Result of each check: 0 ok, 1 warning, 2 critical, 3 unknown.\n' +
      '# TYPE dms_health_check_status gauge\n' +
      'dms_health_check_status{check="nginx"} 0\n' +
      'dms_health_check_status{check="api \\"blue\\"\\\\path\\nnext"} 2\n',
  )
})

test('renders an empty family as HELP and TYPE only', () => {
  assert.is(renderFamily(gauge('dms_x', 'x', [])), '# HELP dms_x x\n# TYPE dms_x gauge\n')
})

test('renders optional timestamps as integers', () => {
  const text = renderFamily(gauge('dms_x', 'x', [{ value: 1, timestampMs: 1700000000123.7 }]))
  assert.ok(text.endsWith('dms_x 1 1700000000123\n'))
})

test('rejects invalid names, label names, suffixes and duplicates', () => {
  const bad: Array<() => unknown> = [
    () => renderFamily(gauge('9bad', 'x', [])),
    () => renderFamily(gauge('dms-bad', 'x', [])),
    () => renderFamily(gauge('dms_x', 'x', [{ labels: { 'bad-label': 'v' }, value: 1 }])),
    () => renderFamily(gauge('dms_x', 'x', [{ labels: { __reserved: 'v' }, value: 1 }])),
    () => renderFamily(gauge('dms_x', 'x', [{ suffix: '_bucket', value: 1 }])),
    () =>
      renderFamily(
        gauge('dms_x', 'x', [
          { labels: { a: '1', b: '2' }, value: 1 },
          { labels: { b: '2', a: '1' }, value: 2 },
        ]),
      ),
    () => renderMetrics([gauge('dms_x', 'x', []), gauge('dms_x', 'y', [])]),
    () => renderFamily({ name: 'dms_x', help: 'x', type: 'bogus' as never, samples: [] }),
  ]
  for (const fn of bad) {
    try {
      fn()
      assert.unreachable('should have thrown')
    } catch (error) {
      assert.instance(error, MetricsError)
      assert.match((error as Error).message, /^Can't render/)
    }
  }
})

test('parseMetrics reads back what renderMetrics wrote', () => {
  const parsed = parseMetrics(renderMetrics(sample))
  const status = parsed.filter((s) => s.name === 'dms_health_check_status')
  assert.equal(status[1]!.labels, { check: 'api "blue"\\path\nnext' })
  assert.is(status[1]!.value, 2)
  const inf = parsed.find((s) => s.name === 'dms_probe_duration_seconds_bucket' && s.labels.le === '+Inf')
  assert.is(inf!.value, 2)
  assert.is(parsed.find((s) => s.name === 'dms_health_check_last_run_timestamp_seconds')!.value, 1717171717.5)
  assert.is(parsed.length, 9)
})

test('parseMetrics rejects garbage', () => {
  try {
    parseMetrics('dms_x{a="1" 2')
    assert.unreachable('should have thrown')
  } catch (error) {
    assert.instance(error, MetricsError)
  }
})

test('textfileName adds .prom and refuses paths', () => {
  assert.is(textfileName('health-check'), 'health-check.prom')
  assert.is(textfileName('deploy.prom'), 'deploy.prom')
  for (const bad of ['../x', 'a/b', '.hidden', '', 'sp ace']) {
    try {
      textfileName(bad)
      assert.unreachable(`should refuse ${bad}`)
    } catch (error) {
      assert.instance(error, MetricsError)
    }
  }
})

test('writeTextfile writes atomically and leaves no temp files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dms-metrics-'))
  try {
    const path = await writeTextfile(dir, 'health-check', sample)
    assert.is(path, join(dir, 'health-check.prom'))
    assert.is(await readFile(path, 'utf8'), renderMetrics(sample))
    // Overwrite: the reader sees either the old or the new content, never a mix.
    await writeTextfile(dir, 'health-check', [gauge('dms_x', 'x', [{ value: 1 }])])
    assert.is(await readFile(path, 'utf8'), '# HELP dms_x x\n# TYPE dms_x gauge\ndms_x 1\n')
    assert.equal(await readdir(dir), ['health-check.prom'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('writeTextfile concurrent writers: final file is one complete version', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dms-metrics-'))
  try {
    const versions = Array.from({ length: 20 }, (_, i) => [gauge('dms_x', 'x', [{ value: i }])])
    await Promise.all(versions.map((v) => writeTextfile(dir, 'race', v)))
    const text = await readFile(join(dir, 'race.prom'), 'utf8')
    assert.match(text, /^# HELP dms_x x\n# TYPE dms_x gauge\ndms_x \d+\n$/)
    assert.equal(await readdir(dir), ['race.prom'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('writeTextfile reports a failure with the path and removes its temp file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dms-metrics-'))
  try {
    // A directory in the way of the target makes the rename fail.
    await writeFile(join(dir, 'blocker'), 'x')
    try {
      await writeTextfile(join(dir, 'blocker'), 'x', [])
      assert.unreachable('should have thrown')
    } catch (error) {
      assert.instance(error, MetricsError)
      assert.match((error as Error).message, /Can't write metrics textfile/)
    }
    assert.equal(await readdir(dir), ['blocker'])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('promtool check metrics accepts the rendered output', () => {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' })
  assert.is(probe.error, undefined, 'promtool is required (Debian package prometheus; npm test installs it)')
  const text = renderMetrics([
    ...sample,
    counter('dms_rollbacks_total', 'Rollbacks by target.', [{ labels: { target: 'production' }, value: 1 }]),
    gauge('dms_live_slot', 'Live slot: 1 for the live one.', [
      { labels: { target: 'production', slot: 'blue' }, value: 1 },
      { labels: { target: 'production', slot: 'green' }, value: 0 },
    ]),
  ])
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  assert.is(res.status, 0, `promtool check metrics failed:\n${res.stdout}${res.stderr}\n---\n${text}`)
  assert.is(res.stdout.trim() + res.stderr.trim(), '', 'no lint findings expected')
})

test('promtool check metrics rejects a broken exposition (the check is real)', () => {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: 'dms_x{a="1" 2\n', encoding: 'utf8' })
  // without promtool, spawnSync fails with ENOENT and a null status: that is not a rejection
  assert.is(res.error, undefined, 'promtool is required (Debian package prometheus; npm test installs it)')
  assert.is(res.status, 1)
  assert.match(res.stdout + res.stderr, /error while linting|parse|unexpected/i)
})

test.run()

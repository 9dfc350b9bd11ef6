// Unit tests of the benchmark's pure parts: median and spread (bench/stats.ts) and the timeline chart
// rows and SVG (bench/timeline-svg.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { figure, showFigure, tableHead, tableRow } from '../../bench/stats.ts'
import { timelineChart, timelineRows } from '../../bench/timeline-svg.ts'
import { END, START, benchBlock, spliceReadme } from '../../bench/readme.ts'
import { summarize, type LoadRecord } from '../../bench/load.ts'
import type { TimelineEntry } from '../../lib/timeline.ts'

test('figure: median of an odd and an even count, min and max, the runs kept in order', () => {
  assert.equal(figure([5, 1, 3, 9, 7]), { runs: [5, 1, 3, 9, 7], median: 5, min: 1, max: 9 })
  assert.is(figure([4, 1, 3, 2]).median, 2.5)
  try {
    figure([])
    assert.unreachable('no runs is an error')
  } catch (e) {
    assert.match((e as Error).message, /no runs/)
  }
})

test('showFigure and tableRow: seconds with the spread, target met or not, failed requests', () => {
  const f = figure([1200, 900, 1000, 1100, 1500])
  assert.is(showFigure(f), '1.10 s (0.90–1.50)')
  const g = figure([700, 800, 900])
  assert.is(
    tableRow('rollback', 1000, [
      { f, failed: 0 },
      { f: g, failed: 3 },
    ]),
    '| rollback | < 1 s | 1.10 s (0.90–1.50) | no | 0 | 0.80 s (0.70–0.90) | yes | 3 |',
  )
  assert.match(tableRow('switch', 5000, [{ f, failed: 2 }]), /\| yes \| 2 \|$/)
})

test('tableHead: a median, met and failed column per load, and a separator of the same width', () => {
  const [head, sep] = tableHead(['steady', 'flat-out'])
  assert.is(
    head,
    '| figure | target | steady: median (min–max) | met | failed | flat-out: median (min–max) | met | failed |',
  )
  assert.is(sep!.split('|').length, head!.split('|').length)
  const row = tableRow('x', 1000, [
    { f: figure([1]), failed: 0 },
    { f: figure([2]), failed: 0 },
  ])
  assert.is(row.split('|').length, head!.split('|').length, 'a row has as many cells as the head')
})

const entries: TimelineEntry[] = [
  { name: 'plan', start: 0, end: 300, ok: true },
  { name: 'Starting 2.0.0 in blue', start: 300, end: 1300, ok: true },
  { name: 'container started', service: 'api', start: 1100, end: 1100, ok: true },
  { name: 'ready through the preview listener', service: 'api', start: 2100, end: 2100, ok: true },
  { name: 'Probing blue', start: 1300, end: 2200, ok: false },
]

test('timelineRows: steps as bars (shifted by the offset), each service one bar from its start to ready', () => {
  const rows = timelineRows(entries, 1000, 'create: ')
  assert.equal(rows, [
    { label: 'create: plan', start: 1000, end: 1300, ok: true },
    { label: 'create: Starting 2.0.0 in blue', start: 1300, end: 2300, ok: true },
    { label: 'create: Probing blue', start: 2300, end: 3200, ok: false },
    { label: 'create: api: started → ready', start: 2100, end: 3100, ok: true, service: 'api' },
  ])
})

test('timelineChart: one labelled bar per row with its length, failures red, service marks drawn', () => {
  const rows = timelineRows(entries)
  const svg = timelineChart(rows, {
    title: 'a <switch>',
    marks: [{ label: 'api: container started', start: 1100, end: 1100, ok: true, service: 'api' }],
  })
  assert.match(svg, /^<svg /)
  assert.match(svg, /a &lt;switch>/)
  assert.is((svg.match(/<rect x=/g) ?? []).length, rows.length, 'one bar per row')
  assert.match(svg, /0\.90 s/, 'the probing step is 0.9 s long')
  assert.is((svg.match(/fill="#cf222e"/g) ?? []).length, 1, 'the failed step is red')
  assert.match(svg, /<title>api: container started<\/title>/)
})

test('the README block: replaced between its markers only; refused without them', () => {
  const block = benchBlock({
    date: '2026-12-03T06:10:00.000Z',
    machine: '2 cores, Linux 6.1',
    loadAvg: '1.50 1.20 0.90 2/300 1234',
    runs: 5,
    table: ['| figure | median |', '| --- | --- |', '| x | 1.00 s |'],
    loads: [
      { name: 'steady', requests: 12345, failed: 0, rps: 100, p50: 12, p99: 80 },
      { name: 'flat-out', requests: 99999, failed: 1, rps: 700, p50: 40, p99: 300 },
    ],
  })
  assert.match(block, /^\*\*Measured 2026-12-03\*\* \(06:10 UTC\)/)
  assert.match(block, /load average at the end 1\.50 1\.20 0\.90\./)
  assert.match(block, /Under the steady load: 12,345 requests, \*\*0 failed\*\*, 100 req\/s/)
  assert.match(block, /Under the flat-out load: 99,999 requests, \*\*1 failed\*\*, 700 req\/s/)
  const readme = `# T\nbefore\n${START}\nold table\n${END}\nafter\n`
  const out = spliceReadme(readme, block)
  assert.ok(out.startsWith(`# T\nbefore\n${START}\n**Measured`))
  assert.ok(out.endsWith(`| x | 1.00 s |\n${END}\nafter\n`))
  assert.not.match(out, /old table/)
  try {
    spliceReadme('# no markers\n', block)
    assert.unreachable('a README without markers is refused')
  } catch (e) {
    assert.match((e as Error).message, /no <!-- bench:start -->/)
  }
})

test('summarize: a run of 300,000 requests (more than a call takes as arguments): span, rate and failures', () => {
  const records = Array.from({ length: 300_000 }, (_, i) => ({
    method: 'GET',
    start: i / 10,
    end: i / 10 + 5,
    status: i % 100_000 === 0 ? 502 : 200,
    slot: i % 2 ? 'blue' : 'green',
  })) satisfies LoadRecord[]
  const s = summarize(records)
  assert.is(s.requests, 300_000)
  assert.is(s.failed, 3)
  assert.is(s.rps, Math.round((300_000 / (29_999.9 + 5)) * 1000))
  assert.equal(s.bySlot, { blue: 150_000, green: 150_000 })
})

test.run()

// A small SVG line chart: requests per second by slot and failures over time, with event marks.
import type { LoadRecord } from './load.ts'
import { isFailure } from './load.ts'

export type ChartEvent = { at: number; label: string }

export function switchChart(
  records: LoadRecord[],
  events: ChartEvent[],
  o: { binMs?: number; title?: string } = {},
): string {
  const bin = o.binMs ?? 500
  const end = records.reduce((m, r) => Math.max(m, r.end), 1) // not Math.max(...): too many records for arguments
  const bins = Math.ceil(end / bin)
  const series: Record<string, number[]> = {
    blue: new Array(bins).fill(0),
    green: new Array(bins).fill(0),
    failed: new Array(bins).fill(0),
  }
  for (const r of records) {
    const i = Math.min(bins - 1, Math.floor(r.end / bin))
    if (isFailure(r)) series.failed![i]!++
    else if (r.slot === 'blue' || r.slot === 'green') series[r.slot]![i]!++
  }
  const perSec = (n: number) => (n * 1000) / bin
  const max = Math.max(10, ...Object.values(series).flat().map(perSec))
  const W = 900,
    H = 360,
    L = 60,
    R = 20,
    T = 40,
    B = 50
  const x = (ms: number) => L + ((W - L - R) * ms) / end
  const y = (v: number) => T + (H - T - B) * (1 - v / max)
  const path = (vals: number[]) =>
    vals.map((v, i) => `${i ? 'L' : 'M'}${x(i * bin + bin / 2).toFixed(1)},${y(perSec(v)).toFixed(1)}`).join(' ')
  const colors: Record<string, string> = { blue: '#1f6feb', green: '#2da44e', failed: '#cf222e' }
  const ticks = Array.from({ length: 6 }, (_, i) => (max * i) / 5)
  const seconds = Array.from({ length: Math.floor(end / 5000) + 1 }, (_, i) => i * 5000)
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${L}" y="22" font-size="15" font-weight="bold">${esc(o.title ?? 'Requests per second by slot during a switch')}</text>`,
    ...ticks.map(
      (v) =>
        `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`,
    ),
    ...seconds.map((s) => `<text x="${x(s)}" y="${H - B + 16}" text-anchor="middle">${s / 1000}s</text>`),
    `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`,
    ...events.map(
      (e, i) =>
        `<line x1="${x(e.at)}" x2="${x(e.at)}" y1="${T}" y2="${H - B}" stroke="#888" stroke-dasharray="4 3"/><text x="${x(e.at) + 3}" y="${T + 12 + (i % 3) * 13}" fill="#555">${esc(e.label)}</text>`,
    ),
    ...Object.entries(series).map(
      ([k, v]) => `<path d="${path(v)}" fill="none" stroke="${colors[k]}" stroke-width="2"/>`,
    ),
    ...Object.keys(series).map(
      (k, i) =>
        `<rect x="${L + i * 130}" y="${H - 22}" width="12" height="12" fill="${colors[k]}"/><text x="${L + i * 130 + 16}" y="${H - 12}">${k === 'failed' ? 'failed requests/s' : `${k} requests/s`}</text>`,
    ),
    `</svg>`,
  ].join('\n')
}

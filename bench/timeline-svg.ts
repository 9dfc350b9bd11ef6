// A timeline chart (SVG): one bar per step of an operation and one row per service with its
// milestones (container started, first healthy probe, ready), so the slow step is visible at a glance.
import type { TimelineEntry } from '../lib/timeline.ts'

export type TimelineRow = { label: string; start: number; end: number; ok: boolean; service?: string }

/** Rows for the chart: steps as bars; per service, one bar from its container start to ready, with ticks. */
export function timelineRows(entries: readonly TimelineEntry[], offset = 0, prefix = ''): TimelineRow[] {
  const steps = entries
    .filter((e) => !e.service)
    .map((e) => ({ label: `${prefix}${e.name}`, start: e.start + offset, end: e.end + offset, ok: e.ok }))
  const services = [...new Set(entries.filter((e) => e.service).map((e) => e.service!))]
  const rows = services.map((s) => {
    const mine = entries.filter((e) => e.service === s)
    const start = Math.min(...mine.map((e) => e.start))
    const end = Math.max(...mine.map((e) => e.end))
    return { label: `${prefix}${s}: started → ready`, start: start + offset, end: end + offset, ok: true, service: s }
  })
  return [...steps, ...rows]
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

export function timelineChart(rows: readonly TimelineRow[], o: { title: string; marks?: TimelineRow[] }): string {
  const end = Math.max(1000, ...rows.map((r) => r.end))
  const W = 960
  const L = 330
  const R = 70
  const T = 40
  const rowH = 22
  const H = T + rows.length * rowH + 40
  const x = (ms: number) => L + ((W - L - R) * ms) / end
  const step = end > 20_000 ? 5000 : end > 8000 ? 2000 : 1000
  const ticks = Array.from({ length: Math.floor(end / step) + 1 }, (_, i) => i * step)
  const bars = rows.map((r, i) => {
    const y = T + i * rowH
    const w = Math.max(2, x(r.end) - x(r.start))
    const fill = !r.ok ? '#cf222e' : r.service ? '#2da44e' : '#1f6feb'
    const secs = ((r.end - r.start) / 1000).toFixed(2)
    return [
      `<text x="${L - 8}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect x="${x(r.start).toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`,
      `<text x="${(x(r.start) + w + 4).toFixed(1)}" y="${y + 15}" fill="#555">${secs} s</text>`,
    ].join('')
  })
  const marks = (o.marks ?? []).map((m) => {
    const i = rows.findIndex((r) => r.service === m.service && r.label.endsWith(': started → ready'))
    if (i < 0) return ''
    const y = T + i * rowH
    return `<line x1="${x(m.start).toFixed(1)}" x2="${x(m.start).toFixed(1)}" y1="${y + 2}" y2="${y + rowH - 2}" stroke="#000" stroke-width="2"><title>${esc(m.label)}</title></line>`
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${x(t)}" x2="${x(t)}" y1="${T}" y2="${H - 30}" stroke="#eee"/><text x="${x(t)}" y="${H - 14}" text-anchor="middle">${t / 1000}s</text>`,
    ),
    ...bars,
    ...marks,
    '</svg>',
    '',
  ].join('\n')
}

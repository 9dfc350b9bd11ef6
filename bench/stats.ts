// Figures for the benchmark table: median and spread (min-max) of repeated runs, formatted in seconds.

export type Figure = { runs: number[]; median: number; min: number; max: number }

/** Median (mean of the middle two for an even count), min and max of the runs, in ms. */
export function figure(runs: readonly number[]): Figure {
  if (runs.length === 0) throw new Error('figure: no runs')
  const s = [...runs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { runs: [...runs], median, min: s[0]!, max: s.at(-1)! }
}

const sec = (ms: number) => (ms / 1000).toFixed(2)

/** "1.23 s (1.10–1.40)" */
export function showFigure(f: Figure): string {
  return `${sec(f.median)} s (${sec(f.min)}–${sec(f.max)})`
}

/** A markdown table row: what, median and spread, target, met or not. */
export function tableRow(what: string, f: Figure, targetMs: number, failed: number): string {
  const met = f.median < targetMs ? 'yes' : 'no'
  return `| ${what} | ${showFigure(f)} | ${f.runs.length} | < ${targetMs / 1000} s | ${met} | ${failed} |`
}

export const TABLE_HEAD = [
  '| figure | median (min–max) | runs | target | met | failed requests |',
  '| --- | --- | --- | --- | --- | --- |',
]

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

/** One figure under one load: its median and spread, and the failed requests of its phase. */
export type Cell = { f: Figure; failed: number }

/** A markdown table row: what, its target, then for each load the median and spread, met or not, failed requests. */
export function tableRow(what: string, targetMs: number, cells: readonly Cell[]): string {
  const under = cells.map(({ f, failed }) => `${showFigure(f)} | ${f.median < targetMs ? 'yes' : 'no'} | ${failed}`)
  return `| ${what} | < ${targetMs / 1000} s | ${under.join(' | ')} |`
}

/** The table's head for these loads: each has its median, met and failed columns. */
export function tableHead(loads: readonly string[]): string[] {
  return [
    `| figure | target | ${loads.map((l) => `${l}: median (min–max) | met | failed`).join(' | ')} |`,
    `| --- | --- | ${loads.map(() => '--- | --- | ---').join(' | ')} |`,
  ]
}

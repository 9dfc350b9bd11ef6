// Prometheus text exposition format (version 0.0.4): a pure renderer, a small parser
// for reading our own textfiles back (counters survive between runs), and an atomic
// writer for node_exporter's textfile collector directory (VAR_DIR/metrics).
//
// The writer never lets node_exporter read half a file: it writes a temp file in the
// same directory whose name does not end in `.prom` (the collector only reads *.prom),
// fsyncs it, renames it over the target and fsyncs the directory.

import { randomBytes } from 'node:crypto'
import { open, rename, unlink, mkdir } from 'node:fs/promises'
import { basename, join } from 'node:path'

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

export type Labels = Readonly<Record<string, string>>

export interface Sample {
  /** Appended to the family name, e.g. `_bucket`, `_sum`, `_count` for histograms. */
  readonly suffix?: string
  readonly labels?: Labels
  readonly value: number
  /** Milliseconds since the epoch. Textfiles must not carry timestamps; leave unset there. */
  readonly timestampMs?: number
}

export interface MetricFamily {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  readonly samples: readonly Sample[]
}

export class MetricsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MetricsError'
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** Escapes HELP text: backslash and line feed (quotes stay as they are). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

/** Formats a sample value the way Prometheus parses it (NaN, +Inf, -Inf). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  if (Object.is(value, -0)) return '0'
  return String(value)
}

export function isValidMetricName(name: string): boolean {
  return METRIC_NAME.test(name)
}

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__')
}

function renderLabels(family: string, labels: Labels | undefined): string {
  if (!labels) return ''
  const names = Object.keys(labels)
  if (names.length === 0) return ''
  const parts = names.map((label) => {
    if (!isValidLabelName(label)) {
      throw new MetricsError(`Can't render ${family}: invalid label name ${JSON.stringify(label)}`)
    }
    const value = labels[label]
    if (typeof value !== 'string') {
      throw new MetricsError(`Can't render ${family}: label ${label} must be a string`)
    }
    return `${label}="${escapeLabelValue(value)}"`
  })
  return `{${parts.join(',')}}`
}

/** Renders one family: HELP, TYPE, then its samples. Throws MetricsError on bad input. */
export function renderFamily(family: MetricFamily): string {
  if (!isValidMetricName(family.name)) {
    throw new MetricsError(`Can't render metric ${JSON.stringify(family.name)}: invalid metric name`)
  }
  const allowed = SUFFIXES[family.type]
  if (!allowed) throw new MetricsError(`Can't render ${family.name}: unknown type ${String(family.type)}`)
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`]
  const seen = new Set<string>()
  for (const sample of family.samples) {
    const suffix = sample.suffix ?? ''
    if (!allowed.includes(suffix)) {
      throw new MetricsError(
        `Can't render ${family.name}: suffix ${JSON.stringify(suffix)} is not allowed for a ${family.type}`,
      )
    }
    if (typeof sample.value !== 'number') {
      throw new MetricsError(`Can't render ${family.name}: sample value must be a number`)
    }
    const labels = renderLabels(family.name, sample.labels)
    const key = `${suffix}${canonicalLabels(sample.labels)}`
    if (seen.has(key)) {
      throw new MetricsError(`Can't render ${family.name}${suffix}: duplicate series ${labels || '{}'}`)
    }
    seen.add(key)
    const ts = sample.timestampMs === undefined ? '' : ` ${Math.trunc(sample.timestampMs)}`
    lines.push(`${family.name}${suffix}${labels} ${formatValue(sample.value)}${ts}`)
  }
  return `${lines.join('\n')}\n`
}

function canonicalLabels(labels: Labels | undefined): string {
  if (!labels) return '{}'
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  )
}

/** Renders families in the given order; a family name may appear only once. */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const names = new Set<string>()
  let out = ''
  for (const family of families) {
    if (names.has(family.name)) {
      throw new MetricsError(`Can't render metrics: family ${family.name} appears twice`)
    }
    names.add(family.name)
    out += renderFamily(family)
  }
  return out
}

export function gauge(name: string, help: string, samples: readonly Sample[]): MetricFamily {
  return { name, help, type: 'gauge', samples }
}

export function counter(name: string, help: string, samples: readonly Sample[]): MetricFamily {
  return { name, help, type: 'counter', samples }
}

export interface ParsedSample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

function unescapeLabelValue(raw: string): string {
  return raw.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c))
}

function parseValue(raw: string): number {
  if (raw === '+Inf' || raw === 'Inf') return Infinity
  if (raw === '-Inf') return -Infinity
  if (raw === 'NaN') return NaN
  const n = Number(raw)
  if (raw === '' || Number.isNaN(n)) throw new MetricsError(`Can't parse metrics: bad value ${JSON.stringify(raw)}`)
  return n
}

/**
 * Parses the sample lines of a text exposition (comments are skipped). Meant for
 * reading back files this module wrote, e.g. to carry a counter across runs.
 */
export function parseMetrics(text: string): ParsedSample[] {
  const out: ParsedSample[] = []
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/.exec(line)
    if (!m) throw new MetricsError(`Can't parse metrics line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    const body = m[3] ?? ''
    const labelRe = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/y
    let pos = 0
    while (pos < body.length) {
      labelRe.lastIndex = pos
      const lm = labelRe.exec(body)
      if (!lm) throw new MetricsError(`Can't parse labels in line: ${JSON.stringify(line)}`)
      labels[lm[1]!] = unescapeLabelValue(lm[2]!)
      pos = labelRe.lastIndex
    }
    out.push({ name: m[1]!, labels, value: parseValue(m[4]!) })
  }
  return out
}

/** Name of the file the collector reads: `health-check` -> `health-check.prom`. */
export function textfileName(name: string): string {
  const file = name.endsWith('.prom') ? name : `${name}.prom`
  if (file !== basename(file) || file.startsWith('.') || !/^[A-Za-z0-9_.-]+\.prom$/.test(file)) {
    throw new MetricsError(`Can't write textfile ${JSON.stringify(name)}: use a plain file name like "health-check"`)
  }
  return file
}

/**
 * Writes `metrics` to `<dir>/<name>.prom` atomically: temp file in the same directory
 * (not matching *.prom), fsync, rename, fsync of the directory. Returns the final path.
 */
export async function writeTextfile(
  dir: string,
  name: string,
  metrics: readonly MetricFamily[] | string,
): Promise<string> {
  const file = textfileName(name)
  const text = typeof metrics === 'string' ? metrics : renderMetrics(metrics)
  const target = join(dir, file)
  const temp = join(dir, `.${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  let renamed = false
  try {
    await mkdir(dir, { recursive: true })
    const handle = await open(temp, 'wx', 0o644)
    try {
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
    renamed = true
    const dirHandle = await open(dir, 'r')
    try {
      await dirHandle.sync()
    } finally {
      await dirHandle.close()
    }
  } catch (error) {
    if (!renamed) await unlink(temp).catch(() => undefined)
    const reason = error instanceof Error ? error.message : String(error)
    throw new MetricsError(`Can't write metrics textfile ${target}: ${reason}`)
  }
  return target
}

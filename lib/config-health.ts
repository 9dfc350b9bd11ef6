// The health check's warning and critical levels, read with the config from HEALTH_* values, with
// defaults that suit a small host. Bad values are reported, never silently used.

export type Thresholds = {
  diskWarnPct: number
  diskCritPct: number
  memWarnPct: number
  memCritPct: number
  /** 5-minute load average per CPU */
  loadWarn: number
  loadCrit: number
  tlsDaysWarn: number
  tlsDaysCrit: number
  pgConnWarnPct: number
  pgConnCritPct: number
  redisMemWarnPct: number
  redisMemCritPct: number
  latencyWarnMs: number
  latencyCritMs: number
  /** the deploy lock held longer than this is a warning */
  lockMaxAgeS: number
  /** a container restart stays a warning this long (so one run cannot swallow it) */
  restartWindowS: number
  /** per-probe timeout; the whole run has its own deadline (--timeout) */
  probeTimeoutMs: number
}

type Spec = { key: string; field: keyof Thresholds; default: number; max?: number }

export const THRESHOLD_KEYS: readonly Spec[] = [
  { key: 'HEALTH_DISK_WARN_PCT', field: 'diskWarnPct', default: 80, max: 100 },
  { key: 'HEALTH_DISK_CRIT_PCT', field: 'diskCritPct', default: 90, max: 100 },
  { key: 'HEALTH_MEM_WARN_PCT', field: 'memWarnPct', default: 85, max: 100 },
  { key: 'HEALTH_MEM_CRIT_PCT', field: 'memCritPct', default: 95, max: 100 },
  { key: 'HEALTH_LOAD_WARN', field: 'loadWarn', default: 2 },
  { key: 'HEALTH_LOAD_CRIT', field: 'loadCrit', default: 4 },
  { key: 'HEALTH_TLS_DAYS_WARN', field: 'tlsDaysWarn', default: 21 },
  { key: 'HEALTH_TLS_DAYS_CRIT', field: 'tlsDaysCrit', default: 7 },
  { key: 'HEALTH_PG_CONN_WARN_PCT', field: 'pgConnWarnPct', default: 80, max: 100 },
  { key: 'HEALTH_PG_CONN_CRIT_PCT', field: 'pgConnCritPct', default: 95, max: 100 },
  { key: 'HEALTH_REDIS_MEM_WARN_PCT', field: 'redisMemWarnPct', default: 80, max: 100 },
  { key: 'HEALTH_REDIS_MEM_CRIT_PCT', field: 'redisMemCritPct', default: 95, max: 100 },
  { key: 'HEALTH_LATENCY_WARN_MS', field: 'latencyWarnMs', default: 1000 },
  { key: 'HEALTH_LATENCY_CRIT_MS', field: 'latencyCritMs', default: 5000 },
  { key: 'HEALTH_LOCK_MAX_AGE_S', field: 'lockMaxAgeS', default: 1800 },
  { key: 'HEALTH_RESTART_WINDOW_S', field: 'restartWindowS', default: 900 },
  { key: 'HEALTH_PROBE_TIMEOUT_MS', field: 'probeTimeoutMs', default: 3000 },
]

export const DEFAULT_THRESHOLDS: Thresholds = Object.fromEntries(
  THRESHOLD_KEYS.map((s) => [s.field, s.default]),
) as Thresholds

/** Pairs whose warning must come before their critical level. below: lower is worse. */
const PAIRS: ReadonlyArray<[keyof Thresholds, keyof Thresholds, 'above' | 'below']> = [
  ['diskWarnPct', 'diskCritPct', 'above'],
  ['memWarnPct', 'memCritPct', 'above'],
  ['loadWarn', 'loadCrit', 'above'],
  ['tlsDaysWarn', 'tlsDaysCrit', 'below'],
  ['pgConnWarnPct', 'pgConnCritPct', 'above'],
  ['redisMemWarnPct', 'redisMemCritPct', 'above'],
  ['latencyWarnMs', 'latencyCritMs', 'above'],
]

const keyOf = (field: keyof Thresholds) => THRESHOLD_KEYS.find((s) => s.field === field)!.key

/** Reads HEALTH_* values; every bad value is named in problems and replaced by its default. */
export function readThresholds(raw: Readonly<Record<string, string | undefined>>): {
  thresholds: Thresholds
  problems: string[]
} {
  const thresholds = { ...DEFAULT_THRESHOLDS }
  const problems: string[] = []
  for (const spec of THRESHOLD_KEYS) {
    const text = raw[spec.key]
    if (text === undefined || text.trim() === '') continue
    const n = Number(text.trim())
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(n)) {
      problems.push(`${spec.key}=${JSON.stringify(text)} is not a non-negative number; using ${spec.default}`)
    } else if (spec.max !== undefined && n > spec.max) {
      problems.push(`${spec.key}=${text} is above ${spec.max}; using ${spec.default}`)
    } else {
      thresholds[spec.field] = n
    }
  }
  for (const [warn, crit, dir] of PAIRS) {
    const bad = dir === 'above' ? thresholds[warn] > thresholds[crit] : thresholds[warn] < thresholds[crit]
    if (bad) {
      problems.push(
        `${keyOf(warn)}=${thresholds[warn]} must be ${dir === 'above' ? 'at most' : 'at least'} ${keyOf(crit)}=${thresholds[crit]}; using the defaults ${DEFAULT_THRESHOLDS[warn]} and ${DEFAULT_THRESHOLDS[crit]}`,
      )
      thresholds[warn] = DEFAULT_THRESHOLDS[warn]
      thresholds[crit] = DEFAULT_THRESHOLDS[crit]
    }
  }
  return { thresholds, problems }
}

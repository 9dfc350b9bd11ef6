// The level of a measured value against its warning and critical thresholds (the thresholds
// themselves are read with the config: lib/config-health.ts).
import type { CheckStatus } from './model.ts'

/** Higher is worse (disk %, memory %, load): at or above crit is CRITICAL. */
export function levelAbove(value: number, warn: number, crit: number): CheckStatus {
  if (!Number.isFinite(value)) return 'UNKNOWN'
  return value >= crit ? 'CRITICAL' : value >= warn ? 'WARNING' : 'OK'
}

/** Lower is worse (TLS days left): at or below crit is CRITICAL. */
export function levelBelow(value: number, warn: number, crit: number): CheckStatus {
  if (!Number.isFinite(value)) return 'UNKNOWN'
  return value <= crit ? 'CRITICAL' : value <= warn ? 'WARNING' : 'OK'
}

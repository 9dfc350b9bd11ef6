// The restore drill's textfile for node_exporter, VAR_DIR/metrics/restore-drill.prom beside the
// deploy metrics: when the last successful drill ran and how long its restore took. Written only
// on success, so the RestoreDrillOverdue alert counts from the last drill that proved a restore.
import { gauge, type MetricFamily, writeTextfile } from '../metrics.ts'

export const DRILL_TEXTFILE = 'restore-drill'

export function drillFamilies(target: string, at: Date, restoreSeconds: number, rows: number): MetricFamily[] {
  const t = { target }
  return [
    gauge('dms_restore_drill_last_success_timestamp_seconds', 'When the last successful restore drill finished.', [
      { labels: t, value: Math.floor(at.getTime() / 1000) },
    ]),
    gauge(
      'dms_restore_drill_duration_seconds',
      'Time to restore in the last successful drill (fetch, start, restore).',
      [{ labels: t, value: restoreSeconds }],
    ),
    gauge('dms_restore_drill_rows', 'Rows counted in the restored copy of the last successful drill.', [
      { labels: t, value: rows },
    ]),
  ]
}

export function recordDrill(
  dir: string,
  target: string,
  at: Date,
  restoreSeconds: number,
  rows: number,
): Promise<string> {
  return writeTextfile(dir, DRILL_TEXTFILE, drillFamilies(target, at, restoreSeconds, rows))
}

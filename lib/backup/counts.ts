// Row counts per table: taken from the live database when a backup is made (kept beside the
// dump as <name>.counts.json), and compared with the restored copy by the restore drill.
import type { Gateway } from '../gateway.ts'
import { OperationError } from '../errors.ts'

export type RowCounts = Record<string, number>

/**
 * One line per ordinary table outside the system schemas: "schema.table|count". Exact counts
 * (count(*)), each through query_to_xml so a single statement counts every table.
 */
export const COUNTS_SQL = [
  "SELECT format('%s.%s', table_schema, table_name) || '|' ||",
  "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text",
  'FROM information_schema.tables',
  "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
  'ORDER BY 1',
].join(' ')

/** psql -tA output of COUNTS_SQL. */
export function parseCounts(stdout: string): RowCounts {
  const counts: RowCounts = {}
  for (const line of stdout.split('\n')) {
    const m = /^(.+)\|(\d+)$/.exec(line.trim())
    if (m) counts[m[1]!] = Number(m[2])
  }
  return counts
}

export type CountDiff = { table: string; expected: number | null; restored: number | null }

/** Tables whose restored count differs from the one recorded at backup time (missing on either side too). */
export function compareCounts(expected: RowCounts, restored: RowCounts): CountDiff[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(restored)])].sort()
  return tables
    .filter((t) => expected[t] !== restored[t])
    .map((t) => ({ table: t, expected: expected[t] ?? null, restored: restored[t] ?? null }))
}

export function describeDiffs(diffs: CountDiff[]): string {
  return diffs
    .map((d) =>
      d.expected === null
        ? `${d.table} is not in the backup's counts`
        : d.restored === null
          ? `${d.table} is missing after the restore`
          : `${d.table} has ${d.restored} rows, ${d.expected} at backup time`,
    )
    .join('; ')
}

/** Counts of a database through a psql argv (the live one's or the scratch container's). */
export async function countRows(
  sh: Gateway,
  psqlArgv: string[],
  o: { env?: Record<string, string>; what: string },
): Promise<RowCounts> {
  const r = await sh.docker(psqlArgv, {
    ...(o.env ? { env: o.env } : {}),
    changes: false,
    nothrow: true,
    action: `count the rows of ${o.what}`,
  })
  if (!r.ok)
    throw new OperationError(
      `Can't count the rows of ${o.what}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`,
      'Check that the database is running: docker compose ps postgres.',
    )
  return parseCounts(r.stdout)
}

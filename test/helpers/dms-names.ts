// The names of the DMS example (its services, paths, tables, image, migration script, the old role table)
// found in a source tree: nothing in lib/ may name an app's service, path or table (DESIGN.md, issue #14).
import fs from 'node:fs'
import path from 'node:path'

/** label -> how it is spotted in source text */
export const DMS_NAMES: Record<string, RegExp> = {
  'service frontend': /\bfrontend\b/g,
  'service docs': /['"`]docs['"`]|\/docs\b|\bdocs: /g,
  'service main': /['"`]main['"`]/g,
  'path /api': /['"`]\/api\b/g,
  'path /app': /['"`]\/app\b/g,
  'path /api/auth': /\/api\/auth\b/g,
  'table documents': /\bdocuments\b/g,
  'table schema_migrations': /\bschema_migrations\b/g,
  'script migrate.js': /\bmigrate\.js\b/g,
  'image dms/app': /\bdms\/app\b/g,
  'role table ROLES/ROLE_NUM/ROLE_PREFIX': /\b(ROLES|ROLE_NUM|ROLE_PREFIX)\b/g,
}

/** "file: label" -> occurrences, for every .ts file under dir (paths relative to root). */
export function findDmsNames(root: string, dir: string): Record<string, number> {
  const found: Record<string, number> = {}
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || !e.name.endsWith('.ts')) continue
    const abs = path.join(e.parentPath, e.name)
    const text = fs.readFileSync(abs, 'utf8')
    for (const [label, re] of Object.entries(DMS_NAMES)) {
      const n = text.match(re)?.length ?? 0
      if (n) found[`${path.relative(root, abs)}: ${label}`] = n
    }
  }
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)))
}

// The runtime paths under VAR_DIR: state file, audit log, lock, nginx markers and includes,
// certificates, secrets, backups, metrics textfiles and health alerts.
import path from 'node:path'

export type Paths = {
  varDir: string
  state: string
  audit: string
  lock: string
  live: string
  nginx: string
  certs: string
  secrets: string
  backups: string
  metrics: string
  alerts: string
}

export function runtimePaths(varDir: string): Paths {
  const p = (...parts: string[]) => path.join(varDir, ...parts)
  return {
    varDir,
    state: p('state.json'),
    audit: p('audit.log'),
    lock: p('deploy.lock'),
    live: p('live'),
    nginx: p('nginx'),
    certs: p('certs'),
    secrets: p('secrets'),
    backups: p('backups'),
    metrics: p('metrics'),
    alerts: p('health-alerts.json'),
  }
}

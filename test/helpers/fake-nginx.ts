// A fake shell that plays nginx inside `docker compose exec` for unit tests: records each
// command run in the container and answers `nginx -t` as told.
import type { Shell } from '../../lib/compose.ts'

export function fakeNginx(
  accepts: boolean,
  rejection = 'nginx: [emerg] invalid parameter\nnginx: configuration file /etc/nginx/nginx.conf test failed',
) {
  const calls: string[] = []
  const sh: Shell = {
    dryRun: false,
    async docker(args) {
      const cmd = args.slice(args.indexOf('exec') + 3).join(' ')
      calls.push(cmd)
      if (cmd.startsWith('nginx -t'))
        return accepts
          ? { ok: true, code: 0, stdout: '', stderr: '' }
          : { ok: false, code: 1, stdout: '', stderr: rejection }
      return { ok: true, code: 0, stdout: '', stderr: '' }
    },
  }
  return { sh, calls }
}

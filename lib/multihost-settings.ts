// The target's settings for an app on several hosts (#16), read once with the config: HOSTS_SSH_DIR (the
// toolkit's SSH directory, default <VAR_DIR>/ssh), HOSTS_SSH_KEY (the private key, default ssh's own) and
// HOSTS_PUBLISH_BASE (the first port the app hosts publish the slots' containers on, default 20000).

export const HOSTS_SCHEMA: Record<string, { kind: 'text' | 'int'; default: () => string }> = {
  HOSTS_SSH_DIR: { kind: 'text', default: () => '' },
  HOSTS_SSH_KEY: { kind: 'text', default: () => '' },
  HOSTS_PUBLISH_BASE: { kind: 'int', default: () => '20000' },
}

export type HostsSettings = {
  /** '' = <VAR_DIR>/ssh */
  sshDir: string
  /** '' = ssh's own default keys */
  sshKey: string
  /** as written (checked where it is used: lib/multihost-upstreams.ts publishBaseOf) */
  publishBase: string
}

export function hostsSettings(raw: Record<string, string>): HostsSettings {
  return {
    sshDir: raw.HOSTS_SSH_DIR ?? '',
    sshKey: raw.HOSTS_SSH_KEY ?? '',
    publishBase: raw.HOSTS_PUBLISH_BASE ?? '',
  }
}

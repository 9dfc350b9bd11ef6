// A real registry for the registry e2e: Debian's docker-registry (the CNCF distribution registry)
// on 127.0.0.1 with htpasswd (bcrypt) authentication, its storage in a temp dir; pushing test
// images into it with the credentials on stdin and in a temp DOCKER_CONFIG (never root's ~/.docker).
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { waitFor } from './harness.ts'

const sh = $({ quiet: true, nothrow: true })

export type TestRegistry = {
  addr: string
  user: string
  password: string
  dir: string
  /** the client side: a DOCKER_CONFIG holding this registry's login */
  dockerConfig: string
  start(): Promise<void>
  stop(): Promise<void>
  running(): boolean
}

/** GET /v2/ status (401 without credentials when up), or 0 when nothing answers. */
export function registryStatus(addr: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`http://${addr}/v2/`, { timeout: 2000 }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
    req.on('timeout', () => req.destroy())
  })
}

/** Creates the registry's files (config, bcrypt htpasswd written from stdin) and starts it. */
export async function startRegistry(port: number, password: string): Promise<TestRegistry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-reg-registry-'))
  const addr = `127.0.0.1:${port}`
  const user = 'ci'
  const htpasswd = path.join(dir, 'htpasswd')
  const made = await $({ quiet: true, nothrow: true, input: `${password}\n` })`htpasswd -B -i -c ${htpasswd} ${user}`
  if (made.exitCode !== 0) throw new Error(`Can't write ${htpasswd}: ${made.stderr}`)
  fs.writeFileSync(
    path.join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: info }',
      `storage: { filesystem: { rootdirectory: ${path.join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "${addr}" }`,
      `auth: { htpasswd: { realm: dmst-reg, path: ${htpasswd} } }`,
      '',
    ].join('\n'),
  )
  const dockerConfig = path.join(dir, 'client')
  fs.mkdirSync(dockerConfig, { mode: 0o700 })
  let child: ChildProcess | null = null
  const reg: TestRegistry = {
    addr,
    user,
    password,
    dir,
    dockerConfig,
    running: () => child !== null && child.exitCode === null,
    async start() {
      if (await registryStatus(addr)) throw new Error(`something already answers on ${addr}`)
      const log = fs.openSync(path.join(dir, 'registry.log'), 'a')
      child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', log, log] })
      fs.closeSync(log)
      await waitFor(
        `the registry on ${addr}`,
        async () => ((await registryStatus(addr)) === 401 ? true : undefined),
        20_000,
        100,
      )
    },
    async stop() {
      const c = child
      if (!c || c.exitCode !== null) return
      const exited = new Promise((r) => c.once('exit', r))
      c.kill('SIGKILL')
      await exited
      child = null
    },
  }
  await reg.start()
  const login = await $({
    quiet: true,
    nothrow: true,
    input: password,
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
  })`docker login --username ${user} --password-stdin ${addr}`
  if (login.exitCode !== 0) throw new Error(`Can't log in to the test registry: ${login.stderr}`)
  return reg
}

/** Tags a local image as <addr>/<repo>:<tag>, pushes it, and returns its registry digest. */
export async function pushAs(reg: TestRegistry, local: string, repoTag: string): Promise<string> {
  const ref = `${reg.addr}/${repoTag}`
  const env = { ...process.env, DOCKER_CONFIG: reg.dockerConfig }
  const tagged = await sh`docker tag ${local} ${ref}`
  if (tagged.exitCode !== 0) throw new Error(`Can't tag ${local}: ${tagged.stderr}`)
  const pushed = await $({ quiet: true, nothrow: true, env })`docker push ${ref}`
  if (pushed.exitCode !== 0) throw new Error(`Can't push ${ref}: ${pushed.stderr}`)
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.stdout)?.[1]
  if (!digest) throw new Error(`no digest in the push output of ${ref}: ${pushed.stdout}`)
  return digest
}

/** Removes every local reference to the registry's images (tags and digests), so the next use must pull. */
export async function forgetLocal(reg: TestRegistry): Promise<void> {
  const refs = await sh`docker image ls --digests --format ${'{{.Repository}}:{{.Tag}} {{.Repository}}@{{.Digest}}'}`
  const ours = refs.stdout
    .split(/\s+/)
    .filter((r) => r.startsWith(`${reg.addr}/`) && !r.endsWith(':<none>') && !r.endsWith('@<none>'))
  if (ours.length) await sh`docker image rm ${ours}`
}

/** The image ID a container of the project runs. */
export async function containerImageId(project: string, service: string): Promise<string> {
  return (await containerImages(project, '{{.Image}}', service))[0] ?? ''
}

/** A field of each running container of the project (e.g. {{.Config.Image}}: the reference it was created from). */
export async function containerImages(project: string, format: string, service?: string): Promise<string[]> {
  const filters = ['--filter', `label=com.docker.compose.project=${project}`]
  if (service) filters.push('--filter', `label=com.docker.compose.service=${service}`)
  const ids = (await sh`docker ps -q ${filters}`).stdout.trim().split('\n').filter(Boolean)
  if (!ids.length) throw new Error(`no ${service ?? ''} container running in ${project}`)
  return (await sh`docker inspect --format ${format} ${ids}`).stdout.trim().split('\n')
}

export async function imageId(ref: string): Promise<string> {
  return (await sh`docker image inspect --format ${'{{.Id}}'} ${ref}`).stdout.trim()
}

/** Stops the registry and removes its storage and client config. */
export async function removeRegistry(reg: TestRegistry): Promise<void> {
  await reg.stop()
  await forgetLocal(reg)
  fs.rmSync(reg.dir, { recursive: true, force: true })
}

/** The digest the registry serves for repo:tag (HEAD of the manifest with basic auth), '' when it has none. */
export function manifestDigest(reg: TestRegistry, repo: string, tag: string): Promise<string> {
  const auth = Buffer.from(`${reg.user}:${reg.password}`).toString('base64')
  return new Promise((resolve) => {
    const req = http.request(
      `http://${reg.addr}/v2/${repo}/manifests/${tag}`,
      {
        method: 'HEAD',
        headers: {
          Authorization: `Basic ${auth}`,
          Accept: 'application/vnd.docker.distribution.manifest.v2+json',
        },
        timeout: 5000,
      },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200 ? String(res.headers['docker-content-digest'] ?? '') : '')
      },
    )
    req.on('error', () => resolve(''))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

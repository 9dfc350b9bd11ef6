// The peer of `npm run bench` (#19): the rollout method of the best-known Compose rollout script
// (docker-rollout: scale the service to twice its containers, wait until the new ones are healthy by
// Docker's healthcheck, then stop and remove the old ones), reimplemented here from its documented steps
// (its code is not vendored), run on the same machine under the same keep-alive load as the toolkit's
// figures. The proxy is nginx from the stack's image resolving the service's name through Docker's DNS
// (what such a setup does); the app is one pyshop service. Its own project, subnet and port; removed after.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { startLoad, summarize } from './load.ts'
import { BASE_IMAGE, buildOne, REPO } from '../test/e2e/harness.ts'

export type PeerResult = { ms: number[]; requests: number; failed: number; firstErrors: string[] }

const PROJECT = 'dmst-bench-peer'
const SUBNET = '172.29.39'
const PORT = 25990
const VERSIONS = ['bench-p1', 'bench-p2'] as const

const composeFile = (dir: string) => `# the peer's project (bench/peer.ts)
services:
  web:
    image: pyshop/app:\${PEER_VERSION}
    environment:
      PORT: '8000'
      READY_PATH: /healthz
      VERSION: \${PEER_VERSION}
    healthcheck:
      test: [CMD, curl, -fsS, -o, /dev/null, http://127.0.0.1:8000/healthz]
      interval: 2s
      timeout: 3s
      retries: 3
      start_period: 30s
  proxy:
    image: dms/nginx:local
    depends_on: [web]
    volumes: ['${dir}/nginx.conf:/etc/nginx/repo/nginx.conf:ro', '${dir}/tls:/etc/nginx/certs:ro']
    ports: ['127.0.0.1:${PORT}:8443']
networks:
  default:
    ipam: { config: [{ subnet: ${SUBNET}.0/24 }] }
`

const NGINX = `# the peer's proxy: the service name resolved through Docker's DNS, as such a setup does
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  resolver 127.0.0.11 valid=1s ipv6=off;
  server {
    listen 8443 ssl;
    ssl_certificate /etc/nginx/certs/cert.pem;
    ssl_certificate_key /etc/nginx/certs/key.pem;
    location / {
      set $app http://web:8000;
      proxy_pass $app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`

const sh = $({ quiet: true, nothrow: true })

async function must(p: Promise<{ exitCode: number | null; stderr: string }>, what: string): Promise<void> {
  const r = await p
  if (r.exitCode !== 0) throw new Error(`peer: ${what} failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`)
}

/** The ids of the web service's containers, oldest first. */
async function webContainers(env: Record<string, string>, dir: string): Promise<string[]> {
  const r = await $({ quiet: true, env })`docker compose -f ${dir}/compose.yml -p ${PROJECT} ps -q web`
  const ids = r.stdout.split('\n').filter(Boolean)
  const started = await Promise.all(
    ids.map(async (id) => [id, (await sh`docker inspect -f {{.Created}} ${id}`).stdout.trim()] as const),
  )
  return started.sort((a, b) => a[1].localeCompare(b[1])).map(([id]) => id)
}

/** One rollout the peer's way; its wall time in ms. */
async function rollout(version: string, dir: string): Promise<number> {
  const env = { ...process.env, PEER_VERSION: version } as Record<string, string>
  const s = performance.now()
  const old = await webContainers(env, dir)
  // 1. twice the containers: the old ones stay as they are, the new ones run the new image
  await must(
    $({
      quiet: true,
      nothrow: true,
      env,
    })`docker compose -f ${dir}/compose.yml -p ${PROJECT} up -d --no-deps --no-recreate --scale web=${old.length * 2} web`,
    'scale up',
  )
  const fresh = (await webContainers(env, dir)).filter((id) => !old.includes(id))
  // 2. wait until Docker's healthcheck says the new ones are healthy (the peer polls it once a second)
  const deadline = Date.now() + 60_000
  for (;;) {
    const states = await Promise.all(
      fresh.map(async (id) => (await sh`docker inspect -f {{.State.Health.Status}} ${id}`).stdout.trim()),
    )
    if (states.every((x) => x === 'healthy')) break
    if (Date.now() > deadline) throw new Error(`peer: new containers not healthy within 60 s (${states.join(', ')})`)
    await new Promise((r) => setTimeout(r, 1000))
  }
  // 3. stop and remove the old ones
  await must(sh`docker stop ${old}`, 'stop old')
  await must(sh`docker rm ${old}`, 'remove old')
  return Math.round(performance.now() - s)
}

/** Brings the peer up, runs `runs` rollouts under 50 keep-alive connections (at `rate` req/s, or as fast as
 * they are answered), removes it. */
export async function runPeer(runs: number, rate?: number): Promise<PeerResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-bench-peer-'))
  const env = { ...process.env, PEER_VERSION: VERSIONS[0] } as Record<string, string>
  const down = () => sh`docker compose -f ${dir}/compose.yml -p ${PROJECT} down --volumes --timeout 5`
  try {
    for (const v of VERSIONS) await buildOne(`pyshop/app:${v}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
    await buildOne('dms/nginx:local', path.join(REPO, 'compose/images/nginx'), { BASE_IMAGE })
    fs.mkdirSync(path.join(dir, 'tls'))
    fs.writeFileSync(path.join(dir, 'nginx.conf'), NGINX)
    fs.writeFileSync(path.join(dir, 'compose.yml'), composeFile(dir))
    await must(
      sh`openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=peer -keyout ${dir}/tls/key.pem -out ${dir}/tls/cert.pem`,
      'certificate',
    )
    await down()
    await must(
      $({ quiet: true, nothrow: true, env })`docker compose -f ${dir}/compose.yml -p ${PROJECT} up -d --wait`,
      'start',
    )
    const load = startLoad({
      url: `https://127.0.0.1:${PORT}`,
      connections: 50,
      rate,
      durationMs: 30 * 60_000,
      paths: ['/'],
    })
    while (load.records.length < 200) await new Promise((r) => setTimeout(r, 50))
    const ms: number[] = []
    for (let i = 0; i < runs; i++) ms.push(await rollout(VERSIONS[(i + 1) % 2]!, dir))
    load.stop()
    const records = await load.done
    const sum = summarize(records)
    return {
      ms,
      requests: sum.requests,
      failed: sum.failed,
      firstErrors: sum.firstFailures.slice(0, 3).map((r) => r.error ?? String(r.status)),
    }
  } finally {
    await down()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// run alone: npx tsx bench/peer.ts [runs]
if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runPeer(Number(process.argv[2] ?? 3))
  process.stdout.write(`${JSON.stringify(r)}\n`)
}

// Test certificates made with the real openssl: a root CA, an intermediate and a leaf for given
// names (EC P-256), written into a temp directory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'

const sh = $({ quiet: true })

export type TestPki = {
  dir: string
  rootPem: string
  intermediatePem: string
  leafPem: string
  leafKey: string
  otherKey: string
}

async function key(file: string): Promise<void> {
  await sh`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ${file}`
}

async function sign(o: {
  dir: string
  name: string
  subj: string
  caCrt: string
  caKey: string
  ext: string
  days: number
}): Promise<void> {
  const p = (s: string) => path.join(o.dir, `${o.name}.${s}`)
  await key(p('key'))
  await sh`openssl req -new -key ${p('key')} -subj ${o.subj} -out ${p('csr')}`
  fs.writeFileSync(p('ext'), o.ext)
  await sh`openssl x509 -req -in ${p('csr')} -CA ${o.caCrt} -CAkey ${o.caKey} -CAcreateserial -days ${o.days} -extfile ${p('ext')} -out ${p('crt')}`
}

/** Root -> intermediate -> leaf (90 days) for `names` (host names, or IPv4 addresses as IP SANs), and a key of no certificate. */
export async function makePki(names: string[], o: { dir?: string } = {}): Promise<TestPki> {
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'dms-pki-'))
  const p = (s: string) => path.join(dir, s)
  await key(p('root.key'))
  await sh`openssl req -x509 -new -key ${p('root.key')} -subj ${'/CN=DMS Test Root'} -days 3650 -addext ${'basicConstraints=critical,CA:TRUE'} -addext ${'keyUsage=critical,keyCertSign,cRLSign'} -out ${p('root.crt')}`
  await sign({
    dir,
    name: 'intermediate',
    subj: '/CN=DMS Test Intermediate',
    caCrt: p('root.crt'),
    caKey: p('root.key'),
    days: 1825,
    ext: 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
  })
  await sign({
    dir,
    name: 'leaf',
    subj: `/CN=${names[0]}`,
    caCrt: p('intermediate.crt'),
    caKey: p('intermediate.key'),
    days: 90,
    ext: `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${names.map((n) => (/^[0-9.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')}\n`,
  })
  await key(p('other.key'))
  const read = (f: string) => fs.readFileSync(p(f), 'utf8')
  return {
    dir,
    rootPem: read('root.crt'),
    intermediatePem: read('intermediate.crt'),
    leafPem: read('leaf.crt'),
    leafKey: read('leaf.key'),
    otherKey: read('other.key'),
  }
}

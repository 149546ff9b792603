// Certificates for the test control plane, made with the openssl CLI (P-256 keys: instant to
// generate, accepted by Go's TLS stack and by the apiserver as service-account signing keys).
import { readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { runChild } from './children.ts';

export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** service-account token signing key and its public half */
  saKey: string;
  saPub: string;
  /** PEM contents, for kubeconfigs and TLS clients */
  caPem: string;
  adminCertPem: string;
  adminKeyPem: string;
}

export const SERVICE_IP = '10.96.0.1';

/** Writes the CA, serving, admin (O=system:masters) and service-account keys into dir. */
export async function generateCerts(dir: string, extraSans: readonly string[] = []): Promise<ControlPlaneCerts> {
  const sans = ['127.0.0.1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', SERVICE_IP];
  for (const san of extraSans) if (!sans.includes(san)) sans.push(san);
  const cnf = join(dir, 'openssl.cnf');
  await writeFile(cnf, opensslConfig(sans));
  const p = (name: string): string => join(dir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];

  await openssl([
    'req',
    '-x509',
    '-new',
    ...newKey,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-subj',
    '/CN=lb-provisioner-test-ca',
    '-days',
    '3650',
    '-config',
    cnf,
    '-extensions',
    'ca',
  ]);
  const signed = (name: string, subject: string, ext: string): Promise<void> =>
    openssl([
      'req',
      '-x509',
      '-new',
      ...newKey,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-subj',
      subject,
      '-days',
      '365',
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-config',
      cnf,
      '-extensions',
      ext,
    ]);
  await Promise.all([
    signed('apiserver', '/CN=kube-apiserver', 'serving'),
    signed('admin', '/O=system:masters/CN=lb-provisioner-admin', 'client'),
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p('sa.key')]).then(() =>
      openssl(['pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub')]),
    ),
  ]);

  const [caPem, adminCertPem, adminKeyPem] = (await Promise.all(
    ['ca.crt', 'admin.crt', 'admin.key'].map((f) => readFile(p(f), 'utf8')),
  )) as [string, string, string];
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('apiserver.crt'),
    servingKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    caPem,
    adminCertPem,
    adminKeyPem,
  };
}

async function openssl(args: string[]): Promise<void> {
  const { code, stderr } = await runChild('openssl', args, { name: 'openssl' });
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}): ${stderr.trim()}`);
}

// Our own config so the result does not depend on the distribution's openssl.cnf defaults.
function opensslConfig(sans: readonly string[]): string {
  const altNames = sans.map((san) => (isIP(san) ? `IP:${san}` : `DNS:${san}`)).join(',');
  return `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = ${altNames}
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
`;
}

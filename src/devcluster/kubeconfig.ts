import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export type KubeconfigCredentials = { clientCertificatePem: string; clientKeyPem: string } | { token: string };

export interface KubeconfigSpec {
  server: string;
  caPem: string;
  userName: string;
  credentials: KubeconfigCredentials;
}

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

/** A self-contained kubeconfig (certificates inline), so a copy works anywhere on this host. */
export function renderKubeconfig(spec: KubeconfigSpec): string {
  const user =
    'token' in spec.credentials
      ? { token: spec.credentials.token }
      : {
          'client-certificate-data': b64(spec.credentials.clientCertificatePem),
          'client-key-data': b64(spec.credentials.clientKeyPem),
        };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      { name: 'lb-provisioner-test', cluster: { server: spec.server, 'certificate-authority-data': b64(spec.caPem) } },
    ],
    users: [{ name: spec.userName, user }],
    contexts: [{ name: 'lb-provisioner-test', context: { cluster: 'lb-provisioner-test', user: spec.userName } }],
    'current-context': 'lb-provisioner-test',
    preferences: {},
  });
}

export async function writeKubeconfig(path: string, spec: KubeconfigSpec): Promise<string> {
  await writeFile(path, renderKubeconfig(spec), { mode: 0o600 });
  return path;
}

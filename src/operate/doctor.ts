/**
 * `lb-provisioner doctor`: can the controller work in this cluster, with these flags? Each check is a
 * value (OK, WARN, FAIL with the fix); doctor reads and never writes, with the operator's credentials.
 */
import * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { loadKubeConfig } from '../kube/client.ts';
import {
  CONTROLLER_PERMISSIONS,
  PEER_LEASE,
  describePermission,
  type Permission,
} from '../kube/controller-permissions.ts';
import type { DoctorCheck } from '../provider-descriptor.ts';
import { providerNamed } from '../providers.ts';
import { competingControllerChecks } from './competing-controllers.ts';
import { tryRead } from './reads.ts';

/** Kubernetes minor versions: loadBalancerClass is GA from 1.24; the tests run 1.37. */
export const SUPPORTED = { minMinor: 24, testedMinMinor: 29, testedMaxMinor: 37 } as const;

const PROVIDER_CHECK_TIMEOUT_MS = 10_000;

export async function runDoctor(config: Config, log: Logger): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const loaded = loadConfig(config.kubeconfig);
  checks.push(loaded.check);
  if (!loaded.kc) return checks;
  const kc = loaded.kc;
  const version = await versionCheck(kc);
  checks.push(version);
  if (version.result === 'FAIL' && !version.detail.startsWith('v1.')) return checks;
  checks.push(await permissionCheck(kc, config));
  for (const p of config.providers) {
    const descriptor = providerNamed(p.name);
    if (!descriptor?.doctor) continue;
    const signal = AbortSignal.timeout(PROVIDER_CHECK_TIMEOUT_MS);
    try {
      checks.push(
        ...(await descriptor.doctor(p.options, { kubeConfig: kc, clusterName: config.clusterName, log, signal })),
      );
    } catch (err) {
      checks.push({
        check: `${p.name}: provider`,
        result: 'FAIL',
        detail: `the check itself failed: ${(err as Error).message}`,
      });
    }
  }
  checks.push(...(await competingControllerChecks(kc, config.provider)));
  return checks;
}

function loadConfig(path: string | undefined): { check: DoctorCheck; kc?: k8s.KubeConfig } {
  const check = 'kubeconfig';
  if (!path && !process.env['KUBERNETES_SERVICE_HOST'])
    return {
      check: {
        check,
        result: 'FAIL',
        detail: 'no --kubeconfig (or KUBECONFIG), and not in a cluster (KUBERNETES_SERVICE_HOST is unset)',
        fix: 'give --kubeconfig <path>',
      },
    };
  try {
    const kc = loadKubeConfig(path);
    const server = kc.getCurrentCluster()?.server;
    if (!server)
      return {
        check: {
          check,
          result: 'FAIL',
          detail: 'no server in the configuration',
          fix: 'give a --kubeconfig with a current context',
        },
      };
    return { check: { check, result: 'OK', detail: `${path ? path : 'in-cluster'}: ${server}` }, kc };
  } catch (err) {
    return {
      check: {
        check,
        result: 'FAIL',
        detail: `${path ?? 'in-cluster'}: ${(err as Error).message.split('\n')[0]}`,
        fix: 'give a readable --kubeconfig',
      },
    };
  }
}

async function versionCheck(kc: k8s.KubeConfig): Promise<DoctorCheck> {
  const check = 'apiserver';
  const server = kc.getCurrentCluster()?.server ?? '';
  const read = await tryRead((o) => kc.makeApiClient(k8s.VersionApi).getCode(o));
  if (read.kind !== 'found')
    return {
      check,
      result: 'FAIL',
      detail: `${server} did not answer: ${read.kind === 'missing' ? '404' : read.message}`,
      fix: 'check the server address, the network and the credentials of the kubeconfig',
    };
  const { gitVersion, major, minor } = read.value;
  const m = Number.parseInt(minor, 10);
  const tested = `tested ${major}.${SUPPORTED.testedMinMinor}-${major}.${SUPPORTED.testedMaxMinor}`;
  if (major !== '1' || Number.isNaN(m))
    return { check, result: 'WARN', detail: `${gitVersion}: version not understood (${tested})` };
  if (m < SUPPORTED.minMinor)
    return {
      check,
      result: 'FAIL',
      detail: `${gitVersion}: spec.loadBalancerClass needs 1.${SUPPORTED.minMinor} or newer`,
      fix: 'upgrade the cluster',
    };
  if (m < SUPPORTED.testedMinMinor || m > SUPPORTED.testedMaxMinor)
    return {
      check,
      result: 'WARN',
      detail: `${gitVersion} at ${server}: outside the ${tested}`,
      fix: 'use a tested Kubernetes version',
    };
  return { check, result: 'OK', detail: `${gitVersion} at ${server} (${tested})` };
}

/** The rows of the permission table this configuration uses, with where each is asked. */
function permissionsFor(config: Config): { p: Permission; namespace?: string; name?: string }[] {
  const local = config.provider.includes('local');
  return CONTROLLER_PERMISSIONS.flatMap((p) => {
    if (p.group === 'lbprovisioner.io' && !local) return [];
    if (p.scope === 'lease') {
      if (!config.leaderElect) return [];
      return [
        { p, namespace: config.leaderElectNamespace, ...(p.verb === 'create' ? {} : { name: config.leaderElectName }) },
      ];
    }
    if (p.scope === 'peer')
      return config.defaultProvider ? [{ p, namespace: PEER_LEASE.namespace, name: PEER_LEASE.name }] : [];
    return [{ p }];
  });
}

async function permissionCheck(kc: k8s.KubeConfig, config: Config): Promise<DoctorCheck> {
  const check = 'permissions';
  const authz = kc.makeApiClient(k8s.AuthorizationV1Api);
  const who = await whoAmI(kc);
  const denied: string[] = [];
  const wanted = permissionsFor(config);
  for (const { p, namespace, name } of wanted) {
    const [resource, subresource] = p.resource.split('/');
    const read = await tryRead((o) =>
      authz.createSelfSubjectAccessReview(
        {
          body: {
            spec: {
              resourceAttributes: {
                group: p.group,
                resource: resource ?? p.resource,
                ...(subresource ? { subresource } : {}),
                verb: p.verb,
                ...(namespace ? { namespace } : {}),
                ...(name ? { name } : {}),
              },
            },
          },
        },
        o,
      ),
    );
    if (read.kind !== 'found')
      return {
        check,
        result: 'WARN',
        detail: `could not check (SelfSubjectAccessReview: ${read.kind === 'missing' ? 'not served' : read.message})`,
      };
    if (!read.value.status?.allowed)
      denied.push(`${describePermission(p)}${namespace ? ` in ${namespace}` : ''} (${p.why})`);
  }
  if (denied.length === 0)
    return { check, result: 'OK', detail: `${who} may do all ${wanted.length} things the controller does` };
  return {
    check,
    result: 'FAIL',
    detail: `${who} may not: ${denied.join('; ')}`,
    fix: "run doctor with the controller's credentials, and grant its ServiceAccount the roles in deploy/ (kubectl apply -k deploy/)",
  };
}

async function whoAmI(kc: k8s.KubeConfig): Promise<string> {
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  const read = await tryRead((o) => api.createSelfSubjectReview({ body: {} }, o));
  const name = read.kind === 'found' ? read.value.status?.userInfo?.username : undefined;
  return name ? `user ${name}` : 'these credentials';
}

/** OK, WARN or FAIL overall: FAIL when any check failed. */
export function failed(checks: readonly DoctorCheck[]): DoctorCheck[] {
  return checks.filter((c) => c.result === 'FAIL');
}

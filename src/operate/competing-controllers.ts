/**
 * Another load-balancer controller in the cluster takes the same Services (class-less ones, or all of
 * them), so a Service could get two addresses or none of ours. Each finding is a WARN that says who and
 * what to do; a read the operator may not do is a WARN "could not check".
 */
import * as k8s from '@kubernetes/client-node';
import type { DoctorCheck } from '../provider-descriptor.ts';
import { couldNotCheck, readCrd, tryRead, type Read } from './reads.ts';

const CLASS_HINT =
  'give our Services spec.loadBalancerClass: lbprovisioner.io/<provider> and run with --class-only, or remove the other controller';

export interface Workload {
  kind: string;
  namespace: string;
  name: string;
}

export interface Workloads {
  deployments: Read<Workload[]>;
  daemonSets: Read<Workload[]>;
  pods: Read<Workload[]>;
}

const items = (kind: string, list: { items: k8s.KubernetesObject[] }): Workload[] =>
  list.items.map((o) => ({ kind, namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '' }));

export async function readWorkloads(kc: k8s.KubeConfig): Promise<Workloads> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const [deployments, daemonSets, pods] = await Promise.all([
    tryRead(async (o) => items('Deployment', await apps.listDeploymentForAllNamespaces({}, o))),
    tryRead(async (o) => items('DaemonSet', await apps.listDaemonSetForAllNamespaces({}, o))),
    tryRead(async (o) => items('Pod', await core.listNamespacedPod({ namespace: 'kube-system' }, o))),
  ]);
  return { deployments, daemonSets, pods };
}

/** A known controller: how to recognise its workloads, and what it does to our Services. */
export interface Competitor {
  check: string;
  matches(w: Workload): boolean;
  explain: string;
}

const COMPETITORS: readonly Competitor[] = [
  {
    check: 'MetalLB',
    matches: (w) =>
      /(^|-)metallb-(controller|speaker)$|^(controller|speaker)$/.test(w.name) &&
      /metallb/.test(`${w.namespace}/${w.name}`),
    explain: 'MetalLB assigns addresses to every LoadBalancer Service without a class it does not know',
  },
  {
    check: 'k3s ServiceLB',
    matches: (w) => w.namespace === 'kube-system' && w.name.startsWith('svclb-'),
    explain:
      "k3s's ServiceLB (klipper-lb) serves class-less LoadBalancer Services (k3s --disable=servicelb turns it off)",
  },
  {
    check: 'kube-vip',
    matches: (w) => /^kube-vip(-ds|-cloud-provider)?$/.test(w.name),
    explain: "kube-vip's cloud provider assigns addresses to class-less LoadBalancer Services",
  },
  {
    check: 'cloud controller manager',
    matches: (w) => /cloud-controller-manager/.test(w.name),
    explain: "a cloud controller manager's service controller builds load balancers for class-less Services",
  },
];

/** Each known controller with the workloads of it that are running here (none: not found). */
export function findCompetitors(seen: readonly Workload[]): { competitor: Competitor; found: Workload[] }[] {
  return COMPETITORS.map((competitor) => ({ competitor, found: seen.filter((w) => competitor.matches(w)) }));
}

/** Every workload-based finding, plus MetalLB's CRD, the AWS webhook and cloud providerIDs on nodes. */
export async function competingControllerChecks(
  kc: k8s.KubeConfig,
  ourProviders: readonly string[],
): Promise<DoctorCheck[]> {
  const workloads = await readWorkloads(kc);
  const reads = [workloads.deployments, workloads.daemonSets, workloads.pods];
  const seen = reads.flatMap((r) => (r.kind === 'found' ? r.value : []));
  const unreadable = reads.find(
    (r): r is Extract<Read<Workload[]>, { kind: 'forbidden' | 'failed' }> =>
      r.kind === 'forbidden' || r.kind === 'failed',
  );
  const checks: DoctorCheck[] = [];
  for (const { competitor: c, found } of findCompetitors(seen)) {
    const check = `other controller: ${c.check}`;
    if (found.length > 0)
      checks.push({
        check,
        result: 'WARN',
        detail: `${found.map((w) => `${w.kind} ${w.namespace}/${w.name}`).join(', ')}: ${c.explain}`,
        fix: CLASS_HINT,
      });
    else if (unreadable) checks.push(couldNotCheck(check, unreadable));
    else checks.push({ check, result: 'OK', detail: 'not found' });
  }
  const metallb = checks.find((c) => c.check === 'other controller: MetalLB');
  if (metallb && metallb.result !== 'WARN') {
    const crd = await readCrd(kc, 'ipaddresspools.metallb.io');
    if (crd.kind === 'found')
      Object.assign(metallb, {
        result: 'WARN',
        detail: `the CRD ipaddresspools.metallb.io is installed: MetalLB may run (its workloads were not seen)`,
        fix: CLASS_HINT,
      });
  }
  checks.push(await awsWebhookCheck(kc), await providerIdCheck(kc, ourProviders));
  return checks;
}

/**
 * aws-load-balancer-controller's mutating webhook stamps `loadBalancerClass: service.k8s.aws/nlb` on every
 * new LoadBalancer Service (its enableServiceMutatorWebhook default), so our default provider never sees it.
 */
async function awsWebhookCheck(kc: k8s.KubeConfig): Promise<DoctorCheck> {
  const check = 'other controller: aws-load-balancer-controller webhook';
  const api = kc.makeApiClient(k8s.AdmissionregistrationV1Api);
  const read = await tryRead((o) => api.listMutatingWebhookConfiguration({}, o));
  if (read.kind === 'forbidden' || read.kind === 'failed') return couldNotCheck(check, read);
  const hooks = read.kind === 'found' ? read.value.items.map((h) => h.metadata?.name ?? '') : [];
  const found = hooks.filter((n) => n.startsWith('aws-load-balancer-webhook'));
  if (found.length === 0) return { check, result: 'OK', detail: 'not found' };
  return {
    check,
    result: 'WARN',
    detail: `MutatingWebhookConfiguration ${found.join(', ')}: it sets loadBalancerClass: service.k8s.aws/nlb on new LoadBalancer Services, so a default provider never sees them`,
    fix: 'set spec.loadBalancerClass: lbprovisioner.io/<provider> on our Services (the webhook leaves a set class alone), or install the AWS controller with enableServiceMutatorWebhook=false',
  };
}

const CLOUDS: Record<string, string> = {
  aws: 'aws',
  azure: 'azure',
  gce: 'gce',
  openstack: 'openstack',
  vsphere: 'vsphere',
};

/** Nodes with a cloud's providerID were initialised by that cloud's controller manager, which may serve Services too. */
async function providerIdCheck(kc: k8s.KubeConfig, ourProviders: readonly string[]): Promise<DoctorCheck> {
  const check = 'other controller: cloud providerIDs on nodes';
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const read = await tryRead((o) => api.listNode({}, o));
  if (read.kind === 'forbidden' || read.kind === 'failed') return couldNotCheck(check, read);
  const clouds = new Set<string>();
  for (const n of read.kind === 'found' ? read.value.items : []) {
    const scheme = /^([a-z]+):\/\//.exec(n.spec?.providerID ?? '')?.[1];
    const cloud = scheme ? CLOUDS[scheme] : undefined;
    if (cloud && !ourProviders.includes(cloud)) clouds.add(cloud);
  }
  if (clouds.size === 0) return { check, result: 'OK', detail: "no node has another cloud provider's providerID" };
  return {
    check,
    result: 'WARN',
    detail: `nodes carry ${[...clouds].join(', ')} providerIDs: that cloud's controller manager may also build load balancers for class-less Services`,
    fix: CLASS_HINT,
  };
}

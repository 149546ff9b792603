/**
 * `lb-provisioner doctor` for the local provider: is there an address pool to hand out (flags, IPPool
 * objects and their CRD), does the data plane have what it needs (the L2 CRDs), and does kube-proxy let an
 * announced VIP work (IPVS mode answers ARP for every Service address unless strictARP is on).
 */
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { DoctorCheck, DoctorContext } from '../../src/provider-descriptor.ts';
import { couldNotCheck, readCrd, tryRead } from '../../src/operate/reads.ts';
import { IPPOOL_GROUP, IPPOOL_PLURAL, IPPOOL_VERSION, poolFromObject } from './pool.ts';

export interface LocalDoctorOptions {
  pool: string[];
  dataplane: 'none' | 'proxy' | 'l2';
}

const CRD_FILES: Record<string, string> = {
  'ippools.lbprovisioner.io': 'deploy/crds/ippool.yaml',
  'l2advertisements.lbprovisioner.io': 'deploy/crds/l2advertisement.yaml',
  'l2announcements.lbprovisioner.io': 'deploy/crds/l2announcement.yaml',
};

export async function localDoctor(o: LocalDoctorOptions, ctx: DoctorContext): Promise<DoctorCheck[]> {
  const checks = [await poolCheck(o, ctx)];
  if (o.dataplane === 'l2')
    for (const crd of ['l2advertisements.lbprovisioner.io', 'l2announcements.lbprovisioner.io'])
      checks.push(await crdNeeded(ctx.kubeConfig, crd, 'the L2 data plane'));
  checks.push(await kubeProxyCheck(ctx.kubeConfig, o.dataplane === 'l2'));
  return checks;
}

async function crdNeeded(kc: k8s.KubeConfig, name: string, by: string): Promise<DoctorCheck> {
  const check = `local: CRD ${name}`;
  const read = await readCrd(kc, name);
  if (read.kind === 'found') return { check, result: 'OK', detail: 'installed' };
  if (read.kind === 'missing')
    return {
      check,
      result: 'FAIL',
      detail: `not installed; ${by} needs it`,
      fix: `kubectl apply -f ${CRD_FILES[name] ?? 'deploy/crds/'}`,
    };
  return couldNotCheck(check, read);
}

async function poolCheck(o: LocalDoctorOptions, ctx: DoctorContext): Promise<DoctorCheck> {
  const check = 'local: address pools';
  const crdName = `${IPPOOL_PLURAL}.${IPPOOL_GROUP}`;
  const flagPools = o.pool.length;
  const crd = await readCrd(ctx.kubeConfig, crdName);
  if (crd.kind === 'forbidden' || crd.kind === 'failed') {
    if (flagPools > 0)
      return {
        check,
        result: 'OK',
        detail: `${flagPools} --pool pool(s); IPPool objects not checked (${crd.message})`,
      };
    return couldNotCheck(check, crd);
  }
  if (crd.kind === 'missing') {
    if (flagPools > 0)
      return {
        check,
        result: 'WARN',
        detail: `${flagPools} --pool pool(s); the CRD ${crdName} is not installed, so IPPool objects are not used`,
        fix: `kubectl apply -f ${CRD_FILES[crdName]} to manage pools as objects`,
      };
    return {
      check,
      result: 'FAIL',
      detail: `no address pool: the CRD ${crdName} is not installed and no --pool is given`,
      fix: `kubectl apply -f ${CRD_FILES[crdName]} and create an IPPool, or give --pool <cidr>`,
    };
  }
  const api = ctx.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const list = await tryRead(
    (opts) =>
      api.listClusterCustomObject(
        { group: IPPOOL_GROUP, version: IPPOOL_VERSION, plural: IPPOOL_PLURAL },
        opts,
      ) as Promise<{
        items?: unknown[];
      }>,
  );
  if (list.kind !== 'found') {
    const why = list.kind === 'missing' ? 'the IPPool API is not served yet (404)' : list.message;
    if (flagPools > 0)
      return { check, result: 'OK', detail: `${flagPools} --pool pool(s); IPPool objects not checked (${why})` };
    return list.kind === 'missing'
      ? { check, result: 'FAIL', detail: `no address pool (${why})`, fix: 'create an IPPool, or give --pool <cidr>' }
      : couldNotCheck(check, list);
  }
  const parsed = (list.value.items ?? []).map(poolFromObject);
  const invalid = parsed.flatMap((p) => (p.ok ? [] : [p.error.message]));
  const valid = parsed.length - invalid.length;
  if (valid + flagPools === 0)
    return {
      check,
      result: 'FAIL',
      detail: `no usable address pool${invalid.length ? ` (${invalid.join('; ')})` : ''}`,
      fix: 'create an IPPool (see README "Local provider"), or give --pool <cidr>',
    };
  const detail = `${flagPools} --pool pool(s), ${valid} IPPool object(s)`;
  if (invalid.length > 0)
    return {
      check,
      result: 'WARN',
      detail: `${detail}; unusable: ${invalid.join('; ')}`,
      fix: 'correct the IPPool objects named',
    };
  return { check, result: 'OK', detail };
}

interface KubeProxyConfig {
  mode?: string;
  ipvs?: { strictARP?: boolean };
}

/**
 * kube-proxy in IPVS mode binds every Service address to kube-ipvs0 and, without strictARP, answers ARP
 * for them on every node: an announced VIP then has many owners (MetalLB documents the same).
 */
export async function kubeProxyCheck(kc: k8s.KubeConfig, l2: boolean): Promise<DoctorCheck> {
  const check = 'kube-proxy strictARP';
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const read = await tryRead((opts) =>
    core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-proxy' }, opts),
  );
  if (read.kind === 'missing')
    return {
      check,
      result: 'OK',
      detail: 'no kube-system/kube-proxy ConfigMap (kube-proxy not installed by kubeadm): not checked',
    };
  if (read.kind !== 'found') return couldNotCheck(check, read);
  let config: KubeProxyConfig | undefined;
  try {
    config = parse(read.value.data?.['config.conf'] ?? '') as KubeProxyConfig | undefined;
  } catch {
    return { check, result: 'WARN', detail: 'kube-system/kube-proxy config.conf is not YAML: not checked' };
  }
  const mode = config?.mode || 'iptables';
  if (mode !== 'ipvs') return { check, result: 'OK', detail: `kube-proxy mode ${mode}` };
  if (config?.ipvs?.strictARP === true) return { check, result: 'OK', detail: 'kube-proxy mode ipvs with strictARP' };
  return {
    check,
    result: l2 ? 'FAIL' : 'WARN',
    detail: `kube-proxy runs in IPVS mode without ipvs.strictARP: every node answers ARP for Service addresses, so an L2-announced VIP ${l2 ? 'breaks' : 'would break (if --dataplane l2 is used)'}`,
    fix: "set ipvs.strictARP: true in the kube-system/kube-proxy ConfigMap's config.conf and restart kube-proxy",
  };
}

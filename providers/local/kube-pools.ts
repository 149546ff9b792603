/**
 * The thin Kubernetes adapter of the local provider's pools: IPPool objects (plus --pool flags) into
 * setPools(), and pool status (size/used/free, a Valid condition) back onto the IPPool objects, with one
 * Warning Event on an IPPool each time it becomes invalid (or its problem changes). The
 * provider coalesces status to at most one report per pool per second; a write happens only on change.
 */
import type * as k8s from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ConfigError } from '../../src/config/errors.ts';
import { apiStatusCode, describeApiError } from '../../src/kube/api-error.ts';
import { ResilientInformer } from '../../src/kube/informer.ts';
import { plainJson } from '../../src/kube/plain-request.ts';
import type { PoolDefinition } from './ipam/definitions.ts';
import {
  IPPOOL_GROUP,
  IPPOOL_KIND,
  IPPOOL_PLURAL,
  IPPOOL_VERSION,
  poolFromObject,
  type InvalidPoolError,
} from './pool.ts';
import type { ProviderContext } from '../../src/provider.ts';
import type { LocalProvider, PoolStatus } from './provider.ts';

interface IPPoolObject extends k8s.KubernetesObject {
  spec?: unknown;
  status?: { size?: string; used?: string; free?: string; conditions?: k8s.V1Condition[] };
}

const IPPOOL_CRD = `${IPPOOL_PLURAL}.${IPPOOL_GROUP}`;
const IPPOOLS = `/apis/${IPPOOL_GROUP}/${IPPOOL_VERSION}/${IPPOOL_PLURAL}`;

export class IPPoolWatcher {
  private readonly provider: LocalProvider;
  private readonly flagPools: PoolDefinition[];
  private readonly log: Logger;
  private readonly event: ProviderContext['objectEvent'];
  private readonly kc: k8s.KubeConfig;
  private readonly informer: ResilientInformer<IPPoolObject>;
  private readonly invalid = new Map<string, string>();
  private readonly written = new Map<string, string>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    kc: k8s.KubeConfig,
    provider: LocalProvider,
    flagPools: PoolDefinition[],
    log: Logger,
    event: ProviderContext['objectEvent'],
  ) {
    this.provider = provider;
    this.flagPools = flagPools;
    this.log = log;
    this.event = event;
    this.kc = kc;
    const changed = () => this.recompute();
    this.informer = new ResilientInformer<IPPoolObject>(
      kc,
      IPPOOLS,
      { onAdd: changed, onUpdate: changed, onDelete: changed },
      { name: 'ippools', log },
    );
  }

  /**
   * Resolves once every IPPool has been read and handed to the provider. Without the CRD, or without the
   * right to read it, the informer would retry forever and the controller would hold the lease, report
   * ready and process nothing: the flag pools serve alone, with a warning that names the CRD.
   */
  async start(): Promise<void> {
    const unusable = await this.crdUnusable();
    if (unusable !== undefined) {
      if (this.flagPools.length === 0)
        throw new ConfigError(
          `--pool: no address pool: give --pool, or make IPPool objects usable (${unusable.problem}; ${unusable.fix})`,
        );
      this.log.warn(
        { crd: IPPOOL_CRD, err: unusable.problem, fix: unusable.fix },
        `IPPool objects are not used, only the --pool pools: ${unusable.problem}`,
      );
      return;
    }
    this.unsubscribe = this.provider.onPoolStatus((stats) => void this.writeStatus(stats));
    await this.informer.start();
    this.recompute();
  }

  /** Why IPPool objects can't be read (the CRD is not installed, or reading it is forbidden), if so. */
  private async crdUnusable(): Promise<{ problem: string; fix: string } | undefined> {
    try {
      await plainJson(this.kc, 'GET', `${IPPOOLS}?limit=1`);
      return undefined;
    } catch (err) {
      const code = apiStatusCode(err);
      if (code === 404)
        return {
          problem: `the IPPool CRD ${IPPOOL_CRD} is not installed`,
          fix: 'kubectl apply -f deploy/crds/ippool.yaml, then restart',
        };
      if (code === 403)
        return {
          problem: `reading ${IPPOOL_CRD} is forbidden (${describeApiError(err)})`,
          fix: 'grant list, watch on ippools and patch on ippools/status (deploy/controller/rbac.yaml), then restart',
        };
      return undefined; // anything else is transient: the informer retries
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.informer.stop();
  }

  private recompute(): void {
    if (!this.informer.hasSynced) return;
    const defs = [...this.flagPools];
    const invalid = new Map<string, string>();
    // oldest first (flag pools before all): of two overlapping pools, the newer is refused
    const made = (o: IPPoolObject) => new Date(o.metadata?.creationTimestamp ?? 0).getTime() || 0;
    const objects = [...this.informer.list()].sort(
      (a, b) => made(a) - made(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
    );
    for (const obj of objects) {
      const parsed = poolFromObject(obj);
      if (parsed.ok) defs.push(parsed.pool);
      else invalid.set(obj.metadata?.name ?? '', parsed.error.message);
    }
    const rejected: InvalidPoolError[] = this.provider.setPools(defs);
    for (const err of rejected) invalid.set(err.pool, err.message);
    for (const [name, message] of invalid) {
      if (this.invalid.get(name) === message) continue;
      this.log.warn({ pool: name }, message);
      const obj = this.informer.get(name);
      // already shown on the pool (a restart, a new leader): said once, not again
      const shown = obj?.status?.conditions?.find((c) => c.type === 'Valid');
      if (obj?.metadata?.uid && !(shown?.status === 'False' && shown.message === message))
        this.event(
          { apiVersion: `${IPPOOL_GROUP}/${IPPOOL_VERSION}`, kind: IPPOOL_KIND, name, uid: obj.metadata.uid },
          'Warning',
          'InvalidSpec',
          message,
        );
    }
    const names = new Set([
      ...this.invalid.keys(),
      ...invalid.keys(),
      ...this.informer.list().map((o) => o.metadata?.name ?? ''),
    ]);
    this.invalid.clear();
    for (const [k, v] of invalid) this.invalid.set(k, v);
    // invalid pools get their condition now; valid ones with their next counts
    void this.writeStatus(
      [...names]
        .filter((n) => invalid.has(n) || !this.written.has(n))
        .map((name) => ({ name, size: '0', used: '0', free: '0' })),
      true,
    );
  }

  private async writeStatus(stats: PoolStatus[], conditionOnly = false): Promise<void> {
    for (const s of stats) {
      const obj = this.informer.get(s.name);
      if (!obj) continue; // a --pool flag, not an object
      const problem = this.invalid.get(s.name);
      const condition = {
        type: 'Valid',
        status: problem ? 'False' : 'True',
        reason: problem ? 'InvalidSpec' : 'Valid',
        message: problem ?? 'the pool serves addresses',
      };
      const counts = conditionOnly || problem ? {} : { size: s.size, used: s.used, free: s.free };
      const fingerprint = JSON.stringify([counts, condition]);
      if (this.written.get(s.name) === fingerprint) continue;
      const previous = obj.status?.conditions?.find((c) => c.type === 'Valid');
      const lastTransitionTime =
        previous && previous.status === condition.status ? previous.lastTransitionTime : new Date().toISOString();
      try {
        const body = {
          status: {
            ...counts,
            conditions: [{ ...condition, lastTransitionTime, observedGeneration: obj.metadata?.generation ?? 0 }],
          },
        };
        await plainJson(this.kc, 'PATCH', `${IPPOOLS}/${encodeURIComponent(s.name)}/status`, {
          body,
          contentType: 'application/merge-patch+json',
        });
        this.written.set(s.name, fingerprint);
      } catch (err) {
        this.log.warn({ pool: s.name, err: describeApiError(err) }, 'could not write IPPool status');
      }
    }
  }
}

/**
 * Where a Service's frontends come from, per IP family: its own public IP (created and tagged here), a
 * public IP the user brought (`azure-pip-name`) or named by address (shared with the Service that holds
 * it), or a private address in a subnet. And the one place public IPs are deleted: only ours, only once
 * no frontend references them.
 */
import type { LoadBalancer, PublicIPAddress } from '@azure/arm-network';
import type { Logger } from 'pino';
import type { IpFamily, LoadBalancerRef } from '../../src/model/desired.ts';
import { InvalidSpecError, NotOwnedError } from '../../src/model/errors.ts';
import type { PlanStep } from '../../src/provider.ts';
import { AZURE_ANNOTATION } from './annotations.ts';
import type { ArmApi } from './arm.ts';
import { describeArmError } from './arm-errors.ts';
import { nameOfId, resourceGroupOfId, resourceId, type Scope } from './arm-ids.ts';
import { frontendOfPrivateIp, frontendOfPublicIp, type FrontendSource, type LbTarget } from './lb-plan.ts';
import { CREATED_BY, TAG, frontendName, publicIpName, publicIpTags, sharedFrontendName, uidOfChild } from './names.ts';
import type { AzureServiceOptions } from './options.ts';

export interface ResolvedFrontend {
  family: IpFamily;
  source: FrontendSource;
  /** the public address, when known before the load balancer is written */
  address?: string;
  /** our own public IP of this Service and family (deleted when unused) */
  ownPip: boolean;
}

export interface FrontendContext {
  api: ArmApi;
  scope: Scope;
  location: string;
  /** --azure-subnet: where internal frontends go unless the Service names a subnet */
  defaultSubnet: string;
  log: Logger;
}

export class Frontends {
  private readonly c: FrontendContext;

  constructor(context: FrontendContext) {
    this.c = context;
  }

  /** Where each family's frontend comes from; creates the Service's own public IP when `apply`. */
  async resolve(
    ref: LoadBalancerRef,
    opts: AzureServiceOptions,
    t: LbTarget,
    current: LoadBalancer | undefined,
    apply: boolean,
    signal: AbortSignal,
    steps: PlanStep[],
  ): Promise<ResolvedFrontend[]> {
    const out: ResolvedFrontend[] = [];
    const pipRg = opts.pipResourceGroup ?? this.c.scope.resourceGroup;
    const pipScope = { ...this.c.scope, resourceGroup: pipRg };
    for (const [i, family] of opts.families.entries()) {
      const requested = opts.requestedIp[family];
      if (opts.internal) {
        const shared = requested ? frontendOfPrivateIp(current, requested) : undefined;
        const name = shared?.name && uidOfChild(shared.name) !== ref.uid ? shared.name : frontendName(ref.uid, family);
        const subnetId = shared?.subnet?.id ?? `${t.vnetId}/subnets/${opts.subnet ?? this.c.defaultSubnet}`;
        const source: FrontendSource = {
          kind: 'private',
          subnetId,
          name,
          ...(requested ? { address: requested } : {}),
        };
        out.push({ family, source, ownPip: false });
        continue;
      }
      let pip: PublicIPAddress | undefined;
      let own = false;
      if (opts.pipName && i === 0) {
        pip = await this.c.api.getPublicIp(pipRg, opts.pipName, signal);
        if (!pip)
          throw new InvalidSpecError(
            `annotation ${AZURE_ANNOTATION.pipName}: public IP ${opts.pipName} not found in resource group ${pipRg}`,
          );
      } else if (requested) {
        pip = (await this.c.api.listPublicIpsIn(pipRg, signal)).find((p) => p.ipAddress === requested);
        if (!pip)
          throw new InvalidSpecError(
            `${family === 'IPv6' ? AZURE_ANNOTATION.ipv6 : `annotation ${AZURE_ANNOTATION.ipv4} / spec.loadBalancerIP`}: no public IP with address ${requested} in resource group ${pipRg}`,
          );
      } else {
        own = true;
        pip = await this.ownPublicIp(ref, opts, family, pipRg, apply, signal, steps);
      }
      if (pip?.tags?.[TAG.serviceUid] === ref.uid) own = true;
      const pipId = pip?.id ?? resourceId(pipScope, 'publicIPAddresses', publicIpName(ref.uid, family));
      const holder = frontendOfPublicIp(current, pipId);
      const name = own ? frontendName(ref.uid, family) : (holder?.name ?? sharedFrontendName(pip?.name ?? ''));
      out.push({
        family,
        source: { kind: 'public-ip', publicIpId: pipId, name },
        ...(pip?.ipAddress ? { address: pip.ipAddress } : {}),
        ownPip: own,
      });
    }
    return out;
  }

  /** The Service's own public IP: created (or its tags and DNS label converged) when `apply`. */
  private async ownPublicIp(
    ref: LoadBalancerRef,
    opts: AzureServiceOptions,
    family: IpFamily,
    rg: string,
    apply: boolean,
    signal: AbortSignal,
    steps: PlanStep[],
  ): Promise<PublicIPAddress | undefined> {
    const name = publicIpName(ref.uid, family);
    const existing = await this.c.api.getPublicIp(rg, name, signal);
    if (existing && existing.tags?.[TAG.ourCluster] !== ref.clusterName)
      throw new NotOwnedError(`public IP ${name} in ${rg} exists but is not tagged for cluster ${ref.clusterName}`);
    const tags = { ...opts.pipTags, ...publicIpTags(ref) };
    const body: PublicIPAddress = {
      location: this.c.location,
      sku: { name: 'Standard', tier: 'Regional' },
      publicIPAllocationMethod: 'Static',
      publicIPAddressVersion: family,
      tags,
    };
    if (opts.dnsLabel && family === opts.families[0]) body.dnsSettings = { domainNameLabel: opts.dnsLabel };
    if (opts.pipPrefixId) body.publicIPPrefix = { id: opts.pipPrefixId };
    if (existing) {
      const sameTags = JSON.stringify(sorted(existing.tags ?? {})) === JSON.stringify(sorted(tags));
      const sameDns = (existing.dnsSettings?.domainNameLabel ?? '') === (body.dnsSettings?.domainNameLabel ?? '');
      if (sameTags && sameDns) return existing;
      steps.push({ action: 'update', resource: 'PublicIPAddress', name, detail: sameDns ? 'tags' : 'DNS label' });
      if (!apply) return existing;
      const update: PublicIPAddress = { ...existing, tags };
      if (body.dnsSettings) update.dnsSettings = body.dnsSettings;
      else delete update.dnsSettings;
      return this.c.api.putPublicIp(rg, name, update, existing.etag, signal);
    }
    steps.push({ action: 'create', resource: 'PublicIPAddress', name });
    if (!apply) return undefined;
    return this.c.api.putPublicIp(rg, name, body, undefined, signal);
  }

  /**
   * Delete these public IPs where they are ours to delete: created by us for this cluster (tags; a BYO
   * public IP never is), and referenced by no frontend (another Service may share one: kept until it lets
   * go). Returns whether anything was deleted.
   */
  async retire(ref: LoadBalancerRef, ids: readonly string[], signal: AbortSignal): Promise<boolean> {
    const mine: PublicIPAddress[] = [];
    for (const id of new Set(ids.map((i) => i.toLowerCase()))) {
      const rg = resourceGroupOfId(id) ?? this.c.scope.resourceGroup;
      const pip = await this.c.api.getPublicIp(rg, nameOfId(id) ?? '', signal);
      if (pip?.tags?.[TAG.ourCluster] === ref.clusterName && pip.tags[TAG.createdBy] === CREATED_BY) mine.push(pip);
    }
    let deleted = false;
    for (const pip of mine) {
      if (pip.ipConfiguration) {
        this.c.log.info(
          { service: `${ref.namespace}/${ref.name}`, publicIp: pip.name },
          'public IP still referenced by a frontend: kept',
        );
        continue;
      }
      const rg = resourceGroupOfId(pip.id) ?? this.c.scope.resourceGroup;
      try {
        await this.c.api.deletePublicIp(rg, pip.name ?? '', signal);
        deleted = true;
      } catch (err) {
        throw new Error(`deleting public IP ${pip.name}: ${describeArmError(err)}`, { cause: err });
      }
    }
    return deleted;
  }
}

function sorted(tags: Record<string, string>): [string, string][] {
  return Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
}

/**
 * `lb-provisioner doctor` for Azure: a token from DefaultAzureCredential, an ARM GET of the resource group
 * with it, and which nodes another public load balancer of the resource group already holds in its
 * backend pools (doctor.ts). Nothing is written.
 */
import * as k8s from '@kubernetes/client-node';
import { DefaultAzureCredential } from '@azure/identity';
import type { DoctorCheck, DoctorContext } from '../../src/provider-descriptor.ts';
import { targetOf } from '../../src/model/nodes.ts';
import { abortWith } from '../../src/kube/client.ts';
import { ArmApi } from './arm.ts';
import { nodesInOtherPublicLoadBalancers } from './doctor.ts';
import type { AzureFlags } from './flags.ts';

const ARM = 'https://management.azure.com';

export async function azureDoctor(flags: AzureFlags, ctx: DoctorContext): Promise<DoctorCheck[]> {
  const arm = (flags.azureArmEndpoint ?? ARM).replace(/\/+$/, '');
  const authorityHost = flags.azureAuthorityHost ?? process.env['AZURE_AUTHORITY_HOST'];
  const credential = new DefaultAzureCredential({
    ...(authorityHost ? { authorityHost } : {}),
    ...(flags.azureAuthorityHost ? { disableInstanceDiscovery: true } : {}),
  });
  const checks: DoctorCheck[] = [];
  const check = 'azure: credentials and resource group';
  const fix =
    'give credentials DefaultAzureCredential finds (AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, workload identity, managed identity) with Network Contributor on the resource group';
  let token: string;
  try {
    const t = await credential.getToken(`${arm}/.default`, { abortSignal: ctx.signal });
    token = t.token;
  } catch (err) {
    return [{ check, result: 'FAIL', detail: `no token: ${(err as Error).message.split('\n')[0]}`, fix }];
  }
  const url = `${arm}/subscriptions/${flags.azureSubscriptionId}/resourcegroups/${flags.azureResourceGroup}?api-version=2021-04-01`;
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ctx.signal });
    if (res.ok) checks.push({ check, result: 'OK', detail: `resource group ${flags.azureResourceGroup} readable` });
    else
      checks.push({
        check,
        result: 'FAIL',
        detail: `GET resource group ${flags.azureResourceGroup}: HTTP ${res.status}`,
        fix: res.status === 404 ? 'check --azure-subscription-id and --azure-resource-group' : fix,
      });
  } catch (err) {
    checks.push({
      check,
      result: 'FAIL',
      detail: `ARM ${arm} unreachable: ${(err as Error).message}`,
      fix: 'check --azure-arm-endpoint and the network',
    });
  }
  checks.push(await poolConflicts(flags, credential, arm, ctx));
  return checks;
}

async function poolConflicts(
  flags: AzureFlags,
  credential: DefaultAzureCredential,
  arm: string,
  ctx: DoctorContext,
): Promise<DoctorCheck> {
  const check = 'azure: nodes in another public load balancer';
  try {
    const nodes = await ctx.kubeConfig.makeApiClient(k8s.CoreV1Api).listNode({}, abortWith(ctx.signal));
    const addresses = nodes.items.flatMap((n) => targetOf(n).addresses);
    const api = new ArmApi({
      subscriptionId: flags.azureSubscriptionId,
      credential,
      ...(arm === ARM ? {} : { endpoint: arm }),
    });
    const conflicts = await nodesInOtherPublicLoadBalancers(
      api,
      flags.azureResourceGroup,
      ctx.clusterName,
      addresses,
      ctx.signal,
    );
    if (conflicts.length === 0) return { check, result: 'OK', detail: `none of ${addresses.length} node address(es)` };
    return {
      check,
      result: 'WARN',
      detail: `a NIC sits in one public load balancer only; already held: ${conflicts.map((c) => `${c.address} by ${c.loadBalancer}`).join(', ')}`,
      fix: "remove those nodes from the other load balancer (on AKS the cluster's own `kubernetes` LB holds them: use an internal load balancer there, or leave Services to AKS)",
    };
  } catch (err) {
    return { check, result: 'WARN', detail: `could not check: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** The soak's Azure invariants can fail: each is shown a fake ARM state or call log that breaks it. */
import { describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import { securityRulePrefix } from '../../providers/azure/names.ts';
import { FakeArm, type Call } from '../azure-fake/server.ts';
import type { Json } from '../azure-fake/state.ts';
import { CLUSTER_NAME } from './aws-rig.ts';
import { AzureProbe, checkArmBudget } from './azure-rig.ts';
import { Checks } from './invariants.ts';
import { Rng } from './rng.ts';
import { World } from './world.ts';

const RG = 'rg-lbp';
const UID = '0a0a0a0a-0000-4000-8000-00000000000a';
const GONE = '0b0b0b0b-0000-4000-8000-00000000000b';

/** A fake ARM holding exactly one Service's load balancer slice, public IP and NSG rule; returns its address. */
function served(fake: FakeArm, uid: string, nodeIps: string[]): string {
  const lbId = fake.id(RG, 'loadBalancers', `${CLUSTER_NAME}-lbp`);
  const pipId = fake.id(RG, 'publicIPAddresses', `lbp-${uid}`);
  const tags = { 'lbprovisioner.io/cluster': CLUSTER_NAME, 'lbprovisioner.io/service-uid': uid };
  const pip = fake.state.put(pipId, 'Microsoft.Network/publicIPAddresses', { location: fake.location, tags });
  fake.state.put(lbId, 'Microsoft.Network/loadBalancers', {
    location: fake.location,
    tags: { 'lbprovisioner.io/cluster': CLUSTER_NAME },
    properties: {
      frontendIPConfigurations: [{ name: `lbp-${uid}`, properties: { publicIPAddress: { id: pipId } } }],
      backendAddressPools: [
        {
          name: `${CLUSTER_NAME}-lbp`,
          properties: {
            loadBalancerBackendAddresses: nodeIps.map((ip, i) => ({ name: `n${i}`, properties: { ipAddress: ip } })),
          },
        },
      ],
      loadBalancingRules: [
        {
          name: `lbp-${uid}-TCP-80`,
          properties: {
            protocol: 'Tcp',
            frontendPort: 80,
            backendPort: 30080,
            frontendIPConfiguration: { id: `${lbId}/frontendIPConfigurations/lbp-${uid}` },
          },
        },
      ],
      probes: [{ name: `lbp-${uid}-TCP-80`, properties: { protocol: 'Http', port: 10256, requestPath: '/healthz' } }],
    },
  });
  fake.state.put(fake.id(RG, 'networkSecurityGroups', 'nodes-nsg'), 'Microsoft.Network/networkSecurityGroups', {
    location: fake.location,
    properties: {
      securityRules: [
        {
          name: `${securityRulePrefix(CLUSTER_NAME)}${uid}-TCP-30080-any`,
          properties: { protocol: 'Tcp', destinationPortRange: '30080' },
        },
      ],
    },
  });
  return String((pip.body['properties'] as Json)['ipAddress']);
}

function service(uid: string, ip: string): k8s.V1Service {
  return {
    metadata: { name: 'svc-0', uid },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Cluster',
      ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }],
    },
    status: { loadBalancer: { ingress: [{ ip }] } },
  };
}

function world(nodeIps: string[]): World {
  const w = new World(
    { providers: ['azure'], defaultProvider: 'azure', maxServices: 10, maxNodes: 3, instances: 3 },
    new Rng(1),
  );
  nodeIps.forEach((ip, i) => w.nodes.set(`n${i}`, { name: `n${i}`, ip, excluded: false, instance: i }));
  return w;
}

async function probe(fake: FakeArm, w: World, owned: k8s.V1Service[]): Promise<Checks> {
  const c = new Checks();
  await new AzureProbe(fake).check(w, owned, c);
  return c;
}

describe('chaos invariants, Azure', () => {
  it('pass when the fake ARM holds exactly the owned Service (the positive control)', async () => {
    const fake = new FakeArm();
    const ip = served(fake, UID, ['10.0.100.10']);
    const c = await probe(fake, world(['10.0.100.10']), [service(UID, ip)]);
    expect(c.violations).toEqual([]);
    expect(c.passed).toBeGreaterThanOrEqual(10);
  });

  it('fail on a leaked frontend and NSG rule, a backend pool that is not the eligible nodes, and an owned Service with no frontend', async () => {
    const fake = new FakeArm();
    served(fake, GONE, ['10.0.100.10', '10.0.100.11']);
    const c = await probe(fake, world(['10.0.100.10']), [service(UID, '198.18.9.9')]);
    const text = c.violations.join('\n');
    expect(text).toContain(`2: frontend lbp-${GONE} belongs to no owned Azure Service`);
    expect(text).toContain(`2: public IP lbp-${GONE} belongs to no owned Azure Service`);
    expect(text).toContain(`${GONE}-TCP-30080-any (undefined) belongs to no owned Azure Service`);
    expect(text).toContain('1: backend pool 10.0.100.10 10.0.100.11, eligible nodes 10.0.100.10');
    expect(text).toContain('1: svc-0 has 0 frontends');
  });

  it('fail on a probe of the wrong port after externalTrafficPolicy turned Local', async () => {
    const fake = new FakeArm();
    const ip = served(fake, UID, ['10.0.100.10']);
    const svc = service(UID, ip);
    svc.spec!.externalTrafficPolicy = 'Local';
    svc.spec!.healthCheckNodePort = 31000;
    const c = await probe(fake, world(['10.0.100.10']), [svc]);
    expect(c.violations.join('\n')).toContain('1: svc-0 probes on 10256, expected 1 on 31000');
  });

  it('fail on a write inside the Retry-After of a 429, unless a new process sent it; and on writes at rest', () => {
    const call = (method: string, at: number): Call => ({ method, path: '/lb', status: 200, at });
    const throttled = [{ at: 1000, until: 3000 }];
    const early = new Checks();
    checkArmBudget([call('PUT', 2000), call('GET', 2100)], throttled, [], undefined, early);
    expect(early.violations.join('\n')).toContain('1 ARM writes within the Retry-After of a 429');

    const restarted = new Checks();
    checkArmBudget([call('PUT', 2000), call('PUT', 3500)], throttled, [1500], undefined, restarted);
    expect(restarted.violations).toEqual([]);
    expect(restarted.passed).toBe(1);

    const atRest = new Checks();
    checkArmBudget([call('PUT', 500), call('DELETE', 9000), call('GET', 9500)], [], [], 8000, atRest);
    expect(atRest.violations).toEqual(['5: 1 ARM writes after convergence with nothing changing: DELETE /lb']);
  });
});

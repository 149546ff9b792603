/**
 * A Service's Azure options as the controller computes them: the model reads health probes once
 * (AZURE_HEALTH_CHECK: Azure's defaults, bounds and annotations), options.ts adds what only Azure has.
 * Bad values name the annotation; flags name the flag.
 */
import { describe, expect, it } from '@jest/globals';
import { aService } from '../../test/builders/service.ts';
import { desiredLoadBalancer } from '../../src/model/desired-load-balancer.ts';
import { AZURE_ANNOTATION as A, AZURE_HEALTH_CHECK, perPortKey } from './annotations.ts';
import { parseAzureFlags } from './flags.ts';
import { azureProvider } from './index.ts';
import { azureOptions } from './options.ts';
import type { ServiceObject } from '../../src/model/objects.ts';

const model = (svc: ServiceObject) =>
  desiredLoadBalancer(svc, [], {
    clusterName: 'c',
    requireProviderID: false,
    needsNodePorts: true,
    healthCheck: AZURE_HEALTH_CHECK,
  });
const options = (svc: ServiceObject) => azureOptions(model(svc));
const errorOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
};

describe('Azure options', () => {
  it('probes kube-proxy every 5 s, 2 probes, unless the Azure probe annotations say otherwise', () => {
    expect(options(aService('a').withPorts(80).withNodePorts().build()).rules[0]!.probe).toEqual({
      protocol: 'Http',
      port: 10256,
      requestPath: '/healthz',
      intervalInSeconds: 5,
      numberOfProbes: 2,
    });
    const tuned = aService('b')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({
        [A.probeProtocol]: 'https',
        [A.probePath]: '/ready',
        [A.probeInterval]: '10',
        [A.probeCount]: '4',
      })
      .build();
    expect(options(tuned).rules[0]!.probe).toEqual({
      protocol: 'Https',
      port: 10256,
      requestPath: '/ready',
      intervalInSeconds: 10,
      numberOfProbes: 4,
    });
  });

  it('a Tcp probe checks the traffic port, as cloud-provider-azure does; Local checks the healthCheckNodePort', () => {
    const tcp = options(
      aService('t')
        .withPorts(80)
        .withNodePorts()
        .withAnnotations({ [A.probeProtocol]: 'Tcp' })
        .build(),
    );
    expect(tcp.rules[0]!.probe).toEqual({
      protocol: 'Tcp',
      port: tcp.rules[0]!.nodePort,
      intervalInSeconds: 5,
      numberOfProbes: 2,
    });
    const local = options(aService('l').withPorts([53, 'UDP']).withNodePorts().local(32000).build());
    expect(local.rules[0]!.probe).toMatchObject({ protocol: 'Http', port: 32000, requestPath: '/healthz' });
  });

  it('per-port annotations: probe overrides, no rule, no probe', () => {
    const svc = aService('p')
      .withPorts(80, 443, 8080)
      .withNodePorts()
      .withAnnotations({
        [perPortKey(80, 'health-probe_protocol')]: 'Tcp',
        [perPortKey(80, 'health-probe_port')]: 'tcp-443',
        [perPortKey(443, 'no_probe_rule')]: 'true',
        [perPortKey(8080, 'no_lb_rule')]: 'true',
      })
      .build();
    const o = options(svc);
    expect(o.rules.map((r) => r.port)).toEqual([80, 443]);
    expect(o.rules[0]!.probe).toMatchObject({ protocol: 'Tcp', port: o.rules[1]!.nodePort });
    expect(o.rules[1]!.probe).toBeUndefined();
  });

  it('names the annotation when a value is refused', () => {
    const bad = (a: Record<string, string>) =>
      errorOf(() => options(aService('x').withPorts(80).withNodePorts().withAnnotations(a).build()));
    expect(bad({ [A.probeInterval]: '3' })).toMatch(new RegExp(`^annotation ${A.probeInterval}: "3" is not accepted`));
    expect(bad({ [A.probeInterval]: '40', [A.probeCount]: '3' })).toMatch(
      new RegExp(`^annotation ${A.probeCount}: .*under 120 s`),
    );
    expect(bad({ [A.idleTimeout]: '200' })).toMatch(new RegExp(`^annotation ${A.idleTimeout}:`));
    expect(bad({ [A.allowedIpRanges]: '10.0.0.0/33' })).toMatch(new RegExp(`^annotation ${A.allowedIpRanges}:`));
    expect(bad({ [A.internal]: 'yes' })).toMatch(new RegExp(`^annotation ${A.internal}: "yes"`));
    expect(bad({ 'service.beta.kubernetes.io/azure-pls-create': 'true' })).toMatch(
      /azure-pls-create: Private Link Service is not supported/,
    );
    expect(bad({ [A.internal]: 'true', [A.pipName]: 'mine' })).toMatch(/internal load balancer has no public IP/);
    expect(errorOf(() => options(aService('s').withPorts([9, 'SCTP']).withNodePorts().build()))).toMatch(/SCTP/);
  });

  it('source ranges from the spec and azure-allowed-ip-ranges together; session affinity as SourceIP', () => {
    const svc = aService('r')
      .withPorts(80)
      .withNodePorts()
      .withAnnotations({ [A.allowedIpRanges]: '198.51.100.0/24', [A.allowedServiceTags]: 'AzureCloud' })
      .with((s) => {
        s.spec!.loadBalancerSourceRanges = ['203.0.113.0/24'];
        s.spec!.sessionAffinity = 'ClientIP';
      })
      .build();
    const o = options(svc);
    expect(o.sourcePrefixes).toEqual(['203.0.113.0/24', '198.51.100.0/24']);
    expect(o.serviceTags).toEqual(['AzureCloud']);
    expect(o.loadDistribution).toBe('SourceIP');
  });

  it('flags: each error names its flag; the subscription may come from AZURE_SUBSCRIPTION_ID', () => {
    const good = {
      azureResourceGroup: 'rg',
      azureLocation: 'westeurope',
      azureVnet: 'vnet',
      azureSubnet: 'nodes',
      azureNsg: 'nsg',
    };
    expect(
      parseAzureFlags(good, { AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000001' }).azureSubscriptionId,
    ).toBe('00000000-0000-0000-0000-000000000001');
    expect(errorOf(() => parseAzureFlags(good, {}))).toBe(
      '--azure-subscription-id: required with --provider azure (or AZURE_SUBSCRIPTION_ID)',
    );
    expect(
      errorOf(() =>
        parseAzureFlags(
          {
            ...good,
            azureSubscriptionId: '00000000-0000-0000-0000-000000000001',
            azureArmEndpoint: 'http://127.0.0.1:1',
          },
          {},
        ),
      ),
    ).toMatch(/^--azure-arm-endpoint: expected an https URL/);
    expect(errorOf(() => parseAzureFlags({ azureSubscriptionId: '00000000-0000-0000-0000-000000000001' }, {}))).toMatch(
      /^--azure-resource-group: required/,
    );
    const sub = { ...good, azureSubscriptionId: '00000000-0000-0000-0000-000000000001' };
    expect(parseAzureFlags(sub, {}).azureRequestTimeout).toBe(20_000);
    expect(parseAzureFlags({ ...sub, azureRequestTimeout: '5s' }, {}).azureRequestTimeout).toBe(5000);
    expect(errorOf(() => parseAzureFlags({ ...sub, azureRequestTimeout: 'soon' }, {}))).toBe(
      '--azure-request-timeout: "soon" is not a duration of at least 100ms',
    );
  });

  it("has a descriptor in the registry's shape: every flag, a schema naming the flag, the annotation table", () => {
    expect(azureProvider.flags.map((f) => f.flags.split(' ')[0])).toEqual([
      '--azure-subscription-id',
      '--azure-resource-group',
      '--azure-location',
      '--azure-vnet',
      '--azure-subnet',
      '--azure-nsg',
      '--azure-arm-endpoint',
      '--azure-authority-host',
      '--azure-poll-interval',
      '--azure-request-timeout',
    ]);
    const parsed = azureProvider.options.safeParse({ azureLocation: 'westeurope' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.message)[0]).toMatch(/^--azure-/);
    expect(azureProvider.annotations[0]!.rows.length).toBeGreaterThan(20);
  });
});

import { runConformance } from '../../test/conformance/suite.ts';
import { RecordingBackend } from '../../test/builders/recording-backend.ts';
import { serviceKey } from '../../src/model/keys.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { LocalProvider } from './provider.ts';
import { poolsFromFlags } from './pool.ts';
import { ProxyDataplane } from './dataplane/proxy-dataplane.ts';
import type { ProbeSpec } from './dataplane/health-checker.ts';
import { ProxyDataPlaneAdapter } from './proxy-adapter.ts';

/** an address outside every pool */
const invalid = (lb: DesiredLoadBalancer): DesiredLoadBalancer => ({
  ...lb,
  annotations: { ...lb.annotations, 'lbprovisioner.io/ips': '203.0.113.7' },
});

runConformance('local (data plane none)', async () => {
  const provider = new LocalProvider({ clusterName: 'conformance', pools: poolsFromFlags(['192.0.2.0/28']).pools });
  return {
    provider,
    // addresses only: there is no configuration to change (the proxy run below checks what is programmed)
    configless: true,
    ownedResources: async () => (await provider.list(new AbortController().signal)).length,
    invalid,
    close: () => provider.close(),
  };
});

runConformance('local (proxy data plane, recording back end)', async () => {
  const backend = new RecordingBackend();
  /** the newest probe the health checker ran against each node address */
  const probes = new Map<string, ProbeSpec>();
  const dataplane = new ProxyDataplane({
    backend,
    vipInterface: 'none',
    prober: (p) => {
      probes.set(p.address, p);
      return Promise.resolve({ ok: true, reason: 'HTTP 200' });
    },
    lockName: `lbp-conformance-${process.pid}-${Math.random()}`,
  });
  const provider = new LocalProvider({
    clusterName: 'conformance',
    pools: poolsFromFlags(['192.0.2.0/28']).pools,
    dataPlane: new ProxyDataPlaneAdapter(dataplane),
    capabilities: { needsNodePorts: true, ipMode: 'Proxy' },
  });
  return {
    provider,
    ownedResources: async () => (await provider.list(new AbortController().signal)).length + backend.last.length,
    observe: async (lb) => {
      const forwarded = backend.service(serviceKey(lb.ref));
      if (!forwarded) return undefined;
      const probe = lb.targets.map((t) => probes.get(t.addresses[0] ?? '')).find((p) => p !== undefined);
      return {
        ports: forwarded.ports.map((p) => `${p.port}/${p.protocol}`),
        targets: forwarded.ports.flatMap((p) => p.targets.map((t) => t.name)),
        ...(probe ? { healthCheck: { protocol: probe.protocol, port: probe.port, path: probe.path } } : {}),
      };
    },
    invalid,
    close: () => provider.close(),
  };
});

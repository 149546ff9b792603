import { runConformance } from '../../test/conformance/suite.ts';
import { LocalProvider } from './provider.ts';
import { poolsFromFlags } from './pool.ts';

runConformance('local (data plane none)', async () => {
  const provider = new LocalProvider({ clusterName: 'conformance', pools: poolsFromFlags(['192.0.2.0/28']).pools });
  return {
    provider,
    configless: true,
    ownedResources: async () => (await provider.list(new AbortController().signal)).length,
    // an address outside every pool
    invalid: (lb) => ({ ...lb, annotations: { ...lb.annotations, 'lbprovisioner.io/ips': '203.0.113.7' } }),
    close: () => provider.close(),
  };
});

/**
 * The short chaos soak of CI (issue 13): a fixed seed and a random one, each a few rounds of random
 * operations and faults against two `lb-provisioner run` replicas, every invariant checked after each
 * round; then a random seed with the local provider's proxy data plane in network namespaces (real
 * packets, network partitions). A failure prints the seed (CHAOS_SEED=<n> replays it), the operation log
 * and the state diff.
 */
import { describe, expect, it } from '@jest/globals';
import { awsRig } from './aws-rig.ts';
import { azureRig } from './azure-rig.ts';
import { ProxyDataplaneLab } from './netns-rig.ts';
import { seedFromEnv } from './rng.ts';
import { runSoak, summarize, type SoakOptions } from './soak.ts';

const FIXED_SEED = 1313;
const AZURE_SEED = 1315;

function options(seed: number): SoakOptions {
  return {
    seed,
    providers: ['local', 'aws'],
    rigs: { aws: awsRig },
    durationMs: 40_000,
    minRounds: 2,
    opsPerRound: [6, 10],
    faultRate: 0.3,
    log: (l) => console.log(l),
  };
}

describe('chaos soak', () => {
  it.each([
    ['a fixed seed', FIXED_SEED],
    ['a random seed', seedFromEnv()],
  ])(
    'local and aws (moto behind the fault proxy), %s: every invariant holds after every round',
    async (_what, seed) => {
      const report = await runSoak(options(seed));
      console.log(summarize(report));
      expect(report.operations).toBeGreaterThan(0);
      expect(report.checksPassed).toBeGreaterThan(0);
      expect(report.logLines).toBeGreaterThan(0);
    },
    240_000,
  );

  // kept short (its own cluster and replicas): the Azure provider as the default, the fake ARM at 20% faults
  it('azure (the fake ARM over HTTPS, 20% of ARM calls faulted), a fixed seed: every invariant holds after every round', async () => {
    const report = await runSoak({
      ...options(AZURE_SEED),
      providers: ['azure'],
      rigs: { azure: azureRig },
      durationMs: 15_000,
      opsPerRound: [4, 6],
    });
    console.log(summarize(report));
    expect(report.operations).toBeGreaterThan(0);
    expect(report.checksPassed).toBeGreaterThan(0);
    expect(Object.values(report.cloudFaultsByKind).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 180_000);

  const netns = ProxyDataplaneLab.support();
  if (!netns.ok) console.warn(`skipping the proxy data plane soak: ${netns.reason}`);
  (netns.ok ? it : it.skip)(
    'local with the proxy data plane (nftables) in network namespaces, partitions included, a random seed: every invariant holds after every round',
    async () => {
      const lab = new ProxyDataplaneLab();
      const report = await runSoak({
        ...options(seedFromEnv()),
        providers: ['local'],
        rigs: { local: lab.rig },
        network: lab,
        durationMs: 30_000,
      });
      console.log(summarize(report));
      expect(report.operations).toBeGreaterThan(0);
      expect(report.checksPassed).toBeGreaterThan(0);
    },
    240_000,
  );
});

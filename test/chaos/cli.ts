/**
 * `npm run chaos -- [--minutes 30] [--providers local,aws,azure] [--dataplane proxy]`: a long chaos soak; prints
 * the figures of issue 13 (operations, faults by kind, invariant checks, convergence after the last fault).
 * `--dataplane proxy` runs the replicas in network namespaces with the local provider's proxy data plane
 * (nftables; root only), real packets checked and network partitions among the faults.
 * CHAOS_SEED=<n> replays a run; CHAOS_VERBOSE=1 prints the operation log as it goes.
 */
import { parseArgs } from 'node:util';
import { awsRig } from './aws-rig.ts';
import { azureRig } from './azure-rig.ts';
import { ProxyDataplaneLab } from './netns-rig.ts';
import { seedFromEnv } from './rng.ts';
import { ChaosViolation, runSoak, summarize } from './soak.ts';
import type { ProviderName } from './world.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    providers: { type: 'string', default: 'local,aws,azure' },
    dataplane: { type: 'string', default: 'none' },
  },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes: expected a positive number, got ${values.minutes}`);
const providers = values.providers.split(',').map((p) => p.trim()) as ProviderName[];
const known: readonly string[] = ['local', 'aws', 'azure'];
for (const p of providers) if (!known.includes(p)) throw new Error(`--providers: unknown provider ${p}`);

if (values.dataplane !== 'none' && values.dataplane !== 'proxy')
  throw new Error(`--dataplane: expected none or proxy, got ${values.dataplane}`);
// the replicas run in the lab's lb namespace: moto's fault proxy and the fake ARM listen on 127.0.0.1 of the host
if (values.dataplane === 'proxy' && providers.some((p) => p !== 'local'))
  throw new Error('--dataplane proxy: run it with --providers local');
const lab = values.dataplane === 'proxy' ? new ProxyDataplaneLab() : undefined;
if (lab && !ProxyDataplaneLab.support().ok) throw new Error(`--dataplane proxy: ${ProxyDataplaneLab.support().reason}`);

const seed = seedFromEnv();
console.log(
  `chaos: seed ${seed} (replay: CHAOS_SEED=${seed} npm run chaos -- --minutes ${minutes} --providers ${providers.join(',')} --dataplane ${values.dataplane})`,
);
try {
  const report = await runSoak({
    seed,
    providers,
    durationMs: minutes * 60_000,
    log: (l) => console.log(l),
    rigs: { aws: awsRig, azure: azureRig, ...(lab ? { local: lab.rig } : {}) },
    ...(lab ? { network: lab } : {}),
  });
  console.log(summarize(report));
} catch (err) {
  console.error(err instanceof ChaosViolation ? err.message : err);
  process.exitCode = 1;
}

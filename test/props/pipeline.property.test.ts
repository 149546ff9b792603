/**
 * Generated bad input through the controller's sync pipeline (in memory, both providers): every bad input
 * gives exactly one Warning Event and a False condition naming the field, is not retried (no hot loop),
 * writes at most twice, builds nothing; and the same Service made good converges.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { READY_CONDITION } from '../../src/model/names.ts';
import { badServiceInput, goodService, type BadServiceInput, type GoodService } from './bad-input.ts';
import { pipelineWorld, serviceFor, type PipelineWorld } from './pipeline-world.ts';

let world: PipelineWorld;
let run = 0;
beforeAll(async () => {
  world = await pipelineWorld();
});
afterAll(async () => {
  await world.close();
});

const readyOf = (key: string) => world.store.get(key)?.status?.conditions?.find((c) => c.type === READY_CONDITION);
const holds = (bad: BadServiceInput, key: string, uid: string): boolean =>
  bad.provider === 'fake' ? world.fake.balancers.has(uid) : world.backend.service(key) !== undefined;

async function badThenGood(good: GoodService, bad: BadServiceInput): Promise<void> {
  const namespace = `props-${++run}`;
  const key = `${namespace}/${good.name}`;
  const base = serviceFor(good.name, namespace, bad.provider, good.ports);
  const uid = base.metadata!.uid!;
  const svc = structuredClone(base);
  bad.apply(svc);

  const writesBefore = world.store.writes;
  await world.apply(svc);
  await world.sync(key);
  // a second look (a drift pass, a node event) changes nothing and shows nothing new
  world.store.get(key);
  await world.sync(key);

  const mine = world.events.filter((e) => e.key === key);
  const warnings = new Set(mine.filter((e) => e.type === 'Warning').map((e) => `${e.reason}: ${e.message}`));
  expect([...warnings]).toHaveLength(1);
  expect([...warnings][0]).toContain(bad.field);
  // short enough to read in kubectl describe, however huge the value at fault
  expect([...warnings][0]!.length).toBeLessThan(1_000);
  const ready = readyOf(key);
  expect(ready?.status).toBe('False');
  expect(ready?.message).toContain(bad.field);
  expect(ready!.message.length).toBeLessThan(1_000);
  // terminal: nothing queues it again until it changes
  expect(world.queue.moves.filter((m) => m.key === key && m.move !== 'forget')).toEqual([]);
  // the finalizer patch (where the provider refuses only at build time) and the condition; the second look writes nothing
  expect(world.store.writes - writesBefore).toBeLessThanOrEqual(2);
  expect(holds(bad, key, uid)).toBe(false);

  // made good: converges
  const fixed = structuredClone(base);
  fixed.metadata!.resourceVersion = undefined;
  await world.apply(fixed);
  await world.sync(key);
  const converged = readyOf(key);
  expect(`${converged?.status} ${converged?.message}`).toMatch(/^True/);
  expect(world.store.get(key)?.status?.loadBalancer?.ingress?.length).toBeGreaterThan(0);
  expect(holds(bad, key, uid)).toBe(true);

  // gone: its load balancer and addresses go too (the pools stay free for the next run)
  world.store.delete(key);
  await world.sync(key);
  expect(world.store.get(key)).toBeUndefined();
  expect(holds(bad, key, uid)).toBe(false);
  // and every address is free again
  expect(world.local.poolStats().map((p) => p.used)).toEqual([0n]);
}

describe('generated bad Service input through the sync pipeline', () => {
  it('gives one Warning and a False condition naming the field, no retry, nothing built; made good it converges', async () => {
    await fc.assert(
      fc.asyncProperty(goodService, badServiceInput(), async (good, bad) => {
        await badThenGood(good, bad);
      }),
      { numRuns: 300, seed: Number(process.env.PROPS_SEED ?? 1313) },
    );
  }, 120_000);
});

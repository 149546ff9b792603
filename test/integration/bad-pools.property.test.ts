/**
 * Generated bad IPPools against the real apiserver (issue 13): every bad pool the apiserver stores (its
 * CRD schema refuses the rest) gets a Valid=False condition and exactly one Warning Event naming the field,
 * and the same pool made good turns Valid=True. Names run up to the 253 characters of a cluster-scoped object.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import * as k8s from '@kubernetes/client-node';
import { createLocalProvider } from '../../providers/local/index.ts';
import type { ServiceController } from '../../src/controller/controller.ts';
import { silentLogger } from '../../src/log.ts';
import { waitFor } from '../harness/fixtures.ts';
import { badPoolInput, type BadPoolInput } from '../props/bad-input.ts';
import { eventsOf, startCluster, startController, type Cluster } from './support.ts';

const group = { group: 'lbprovisioner.io', version: 'v1alpha1', plural: 'ippools' };
type PoolObject = {
  metadata?: { name?: string; uid?: string; resourceVersion?: string };
  status?: { conditions?: { type: string; status: string; message: string }[] };
};

describe('generated bad IPPools (real apiserver)', () => {
  let cluster: Cluster;
  let custom: k8s.CustomObjectsApi;
  let controller: ServiceController;
  let stored = 0;

  beforeAll(async () => {
    cluster = await startCluster();
    custom = cluster.admin.makeApiClient(k8s.CustomObjectsApi);
    const provider = await createLocalProvider({
      clusterName: 'it',
      pools: [],
      dataplane: 'none',
      log: silentLogger(),
    });
    controller = await startController(cluster, { providers: [provider] });
  });
  afterAll(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  const valid = async (name: string) =>
    ((await custom.getClusterCustomObject({ ...group, name })) as PoolObject).status?.conditions?.find(
      (c) => c.type === 'Valid',
    );

  // an IPPool is cluster-scoped: its Events are in the default namespace, as client-go's recorder puts them
  const warningsOn = async (name: string, uid: string) =>
    (await eventsOf(cluster, 'default', name)).filter(
      (e) =>
        e.type === 'Warning' &&
        e.involvedObject.uid === uid &&
        e.involvedObject.kind === 'IPPool' &&
        e.involvedObject.apiVersion === 'lbprovisioner.io/v1alpha1',
    );

  async function badThenGood(bad: BadPoolInput): Promise<void> {
    const name = (bad.object as PoolObject).metadata!.name!;
    let uid: string;
    try {
      uid = ((await custom.createClusterCustomObject({ ...group, body: bad.object as object })) as PoolObject).metadata!
        .uid!;
    } catch (err) {
      // the CRD's schema refused it: nothing reaches the controller
      if ((err as { code?: number }).code === 422) return;
      throw err;
    }
    stored++;
    try {
      const condition = await waitFor(
        async () => {
          const c = await valid(name);
          return c?.status === 'False' ? c : undefined;
        },
        { message: `IPPool ${name} (${bad.category}) to be Valid=False`, timeoutMs: 15_000 },
      );
      expect(condition.message).toContain(bad.field);
      expect(condition.message.length).toBeLessThan(1_000);
      const warning = await waitFor(async () => (await warningsOn(name, uid))[0], {
        message: `a Warning Event on IPPool ${name} (${bad.category})`,
        timeoutMs: 15_000,
      });
      expect([warning.reason, warning.message]).toEqual(['InvalidSpec', condition.message]);

      const current = (await custom.getClusterCustomObject({ ...group, name })) as PoolObject & object;
      await custom.replaceClusterCustomObject({
        ...group,
        name,
        body: { ...current, spec: { addresses: ['198.18.0.0/28'] } },
      });
      await waitFor(async () => ((await valid(name))?.status === 'True' ? true : undefined), {
        message: `IPPool ${name} to be Valid=True once made good`,
        timeoutMs: 15_000,
      });
      // barrier: the controller has read the good pool, so the bad one's status writes echoed long before
      expect((await warningsOn(name, uid)).map((e) => [e.reason, e.count])).toEqual([['InvalidSpec', 1]]);
    } finally {
      await custom.deleteClusterCustomObject({ ...group, name });
    }
  }

  it('gives every stored bad pool Valid=False and one Warning Event naming the field; made good it turns Valid=True', async () => {
    await fc.assert(
      fc.asyncProperty(badPoolInput, async (bad) => {
        await badThenGood(bad);
      }),
      { numRuns: 16, seed: Number(process.env.PROPS_SEED ?? 1313) },
    );
    // the property checked something: some bad pools got past the schema
    expect(stored).toBeGreaterThan(0);
    if (process.env.PROPS_VERBOSE) console.log(`bad pools stored by the apiserver: ${stored} of 16`);
  }, 300_000);

  it('refuses the newer of two overlapping IPPools with Valid=False and one Warning Event naming both entries', async () => {
    const make = async (name: string, addresses: string[]) =>
      (
        (await custom.createClusterCustomObject({
          ...group,
          body: { apiVersion: 'lbprovisioner.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec: { addresses } },
        })) as PoolObject
      ).metadata!.uid!;
    const condition = (name: string, status: string) =>
      waitFor(async () => ((await valid(name))?.status === status ? await valid(name) : undefined), {
        message: `IPPool ${name} to be Valid=${status}`,
        timeoutMs: 15_000,
      });
    try {
      const olderUid = await make('overlap-older', ['198.18.16.0/28']);
      await condition('overlap-older', 'True');
      // creationTimestamp has whole seconds: the newer pool must be made in a later one
      const second = Math.floor(Date.now() / 1000);
      await waitFor(async () => (Math.floor(Date.now() / 1000) > second ? true : undefined), {
        message: 'the next second',
      });
      const newerUid = await make('overlap-newer', ['198.18.16.8-198.18.16.20']);
      const refused = await condition('overlap-newer', 'False');
      const expected =
        'pool "overlap-newer": spec.addresses: "198.18.16.8-198.18.16.20" overlaps "198.18.16.0/28" of pool "overlap-older"';
      expect(refused?.message).toBe(expected);
      await waitFor(async () => (await warningsOn('overlap-newer', newerUid))[0], {
        message: 'a Warning Event on overlap-newer',
        timeoutMs: 15_000,
      });

      // the newer pool made good: it serves, and the older one was never touched
      const current = (await custom.getClusterCustomObject({ ...group, name: 'overlap-newer' })) as PoolObject & object;
      await custom.replaceClusterCustomObject({
        ...group,
        name: 'overlap-newer',
        body: { ...current, spec: { addresses: ['198.18.16.16/28'] } },
      });
      await condition('overlap-newer', 'True');
      expect((await warningsOn('overlap-newer', newerUid)).map((e) => [e.reason, e.message, e.count])).toEqual([
        ['InvalidSpec', expected, 1],
      ]);
      expect((await valid('overlap-older'))?.status).toBe('True');
      expect(await warningsOn('overlap-older', olderUid)).toEqual([]);
    } finally {
      for (const name of ['overlap-newer', 'overlap-older'])
        await custom.deleteClusterCustomObject({ ...group, name }).catch(() => undefined);
    }
  }, 60_000);
});

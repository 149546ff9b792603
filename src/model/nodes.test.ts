import { describe, expect, it } from '@jest/globals';
import { aNode } from '../../test/builders/service.ts';
import { eligibleNodes, nodeFingerprint, nodesWithoutProviderID, targetsFingerprint, targetsOf } from './nodes.ts';
import { EXCLUDE_FROM_LB_LABEL, TO_BE_DELETED_TAINT } from './names.ts';

const names = (nodes: { metadata?: { name?: string } }[]) => nodes.map((n) => n.metadata?.name);

describe('eligible nodes', () => {
  const nodes = [
    aNode('plain'),
    aNode('excluded', { labels: { [EXCLUDE_FROM_LB_LABEL]: '' } }),
    aNode('deleting', { deleting: true }),
    aNode('autoscaled-away', { taints: [{ key: TO_BE_DELETED_TAINT, effect: 'NoSchedule' }] }),
    aNode('cordoned', { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] }),
    aNode('cloud', { providerID: 'aws:///us-east-1a/i-1' }),
  ];

  it('leaves out excluded and deleted nodes but keeps cordoned and autoscaler-tainted ones (health checks drain)', () => {
    expect(names(eligibleNodes(nodes, { requireProviderID: false }))).toEqual([
      'plain',
      'autoscaled-away',
      'cordoned',
      'cloud',
    ]);
  });

  it('keeps only nodes with a providerID where the provider maps through it, and names the others', () => {
    expect(names(eligibleNodes(nodes, { requireProviderID: true }))).toEqual(['cloud']);
    expect(nodesWithoutProviderID(nodes)).toEqual(['autoscaled-away', 'cordoned', 'plain']);
  });

  it('turns nodes into sorted targets with one address per family, InternalIP first', () => {
    const dual = aNode('b', { ip: '10.0.0.2' });
    dual.status!.addresses!.push(
      { type: 'InternalIP', address: 'fd00::2' },
      { type: 'ExternalIP', address: '203.0.113.9' },
    );
    const targets = targetsOf([dual, aNode('a', { ip: '10.0.0.1' })], { requireProviderID: false });
    expect(targets.map((t) => [t.name, t.addresses])).toEqual([
      ['a', ['10.0.0.1']],
      ['b', ['10.0.0.2', 'fd00::2']],
    ]);
  });

  it('fingerprints a node by exactly what its target reads: a label counts, a taint does not', () => {
    const base = aNode('a');
    const tainted = aNode('a', { taints: [{ key: TO_BE_DELETED_TAINT, effect: 'NoSchedule' }] });
    const labelled = aNode('a', { labels: { 'node-pool': 'edge' } });
    expect(nodeFingerprint(tainted)).toBe(nodeFingerprint(base));
    expect(nodeFingerprint(labelled)).not.toBe(nodeFingerprint(base));
    // and the target sets agree with the fingerprints
    const set = (n: typeof base) => targetsFingerprint(targetsOf([n], { requireProviderID: false }));
    expect(set(tainted)).toBe(set(base));
    expect(set(labelled)).not.toBe(set(base));
  });

  it('gives equal fingerprints for equal target sets and different ones when a node moves', () => {
    const a = targetsOf([aNode('a'), aNode('b')], { requireProviderID: false });
    const b = targetsOf([aNode('b'), aNode('a')], { requireProviderID: false });
    const c = targetsOf([aNode('a')], { requireProviderID: false });
    expect(targetsFingerprint(a)).toBe(targetsFingerprint(b));
    expect(targetsFingerprint(a)).not.toBe(targetsFingerprint(c));
  });
});

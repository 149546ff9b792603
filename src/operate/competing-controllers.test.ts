import { describe, expect, it } from '@jest/globals';
import { findCompetitors, type Workload } from './competing-controllers.ts';

const found = (...workloads: Workload[]) =>
  Object.fromEntries(
    findCompetitors(workloads).map(({ competitor, found: f }) => [competitor.check, f.map((w) => w.name)]),
  );

const d = (namespace: string, name: string): Workload => ({ kind: 'Deployment', namespace, name });
const ds = (namespace: string, name: string): Workload => ({ kind: 'DaemonSet', namespace, name });

describe('other load-balancer controllers, recognised by their workloads', () => {
  it("MetalLB by its Helm names anywhere, or by its manifests' names in its namespace", () => {
    expect(found(d('lb', 'metallb-controller'), ds('lb', 'metallb-speaker'))['MetalLB']).toEqual([
      'metallb-controller',
      'metallb-speaker',
    ]);
    expect(found(d('metallb-system', 'controller'), ds('metallb-system', 'speaker'))['MetalLB']).toEqual([
      'controller',
      'speaker',
    ]);
    // a Deployment that happens to be called controller elsewhere is not MetalLB
    expect(found(d('default', 'controller'))['MetalLB']).toEqual([]);
  });

  it('k3s ServiceLB: svclb- DaemonSets in kube-system only', () => {
    expect(found(ds('kube-system', 'svclb-traefik-1234'))['k3s ServiceLB']).toEqual(['svclb-traefik-1234']);
    expect(found(ds('default', 'svclb-mine'))['k3s ServiceLB']).toEqual([]);
  });

  it('kube-vip and a cloud controller manager', () => {
    const r = found(
      ds('kube-system', 'kube-vip-ds'),
      d('kube-system', 'kube-vip-cloud-provider'),
      d('kube-system', 'aws-cloud-controller-manager'),
    );
    expect(r['kube-vip']).toEqual(['kube-vip-ds', 'kube-vip-cloud-provider']);
    expect(r['cloud controller manager']).toEqual(['aws-cloud-controller-manager']);
  });

  it('finds nothing in a cluster without them', () => {
    const r = found(
      d('kube-system', 'coredns'),
      ds('kube-system', 'kube-proxy'),
      d('lb-provisioner', 'lb-provisioner'),
    );
    expect(Object.values(r).flat()).toEqual([]);
  });
});

import { describe, expect, it } from '@jest/globals';
import { ipvsStrictArpWarning } from './strict-arp.ts';

describe('kube-proxy IPVS without strictARP', () => {
  it('warns when IPVS mode answers ARP for every VIP (strictARP absent or false)', () => {
    expect(
      ipvsStrictArpWarning('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\n'),
    ).toMatch(/IPVS mode without strictARP.*ipvs\.strictARP: true/);
    expect(ipvsStrictArpWarning('mode: "ipvs"\nipvs:\n  strictARP: false\n')).not.toBeNull();
  });

  it('is quiet with strictARP on, in iptables or nftables mode, or for text that is not a configuration', () => {
    expect(ipvsStrictArpWarning('mode: ipvs\nipvs:\n  strictARP: true\n')).toBeNull();
    expect(ipvsStrictArpWarning('mode: iptables\n')).toBeNull();
    expect(ipvsStrictArpWarning('mode: nftables\nipvs:\n  strictARP: false\n')).toBeNull();
    expect(ipvsStrictArpWarning('mode: ""\n')).toBeNull();
    expect(ipvsStrictArpWarning(': not yaml : [')).toBeNull();
  });
});

/**
 * The proxy data plane probe reads our nftables table as `nft -j` prints it; the listing below was
 * captured from the soak's lb host (one Service port, two nodes), trimmed to the parts the probe reads.
 */
import { describe, expect, it } from '@jest/globals';
import { forwardingView } from './netns-rig.ts';

const dnatRule = (chain: string, node: string, addr: string) => ({
  rule: {
    chain,
    comment: node,
    expr: [
      { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } },
      { mangle: { key: { meta: { key: 'mark' } }, value: { '|': [{ meta: { key: 'mark' } }, 4194304] } } },
      { dnat: { family: 'ip', addr, port: 54245 } },
    ],
  },
});

const listing = {
  nftables: [
    { metainfo: { version: '1.0.6', json_schema_version: 1 } },
    { set: { name: 'vips_v4', type: 'ipv4_addr', elem: ['192.0.2.0', '203.0.113.9'] } },
    { set: { name: 'vips_v6', type: 'ipv6_addr' } },
    {
      rule: {
        chain: 'services',
        comment: 'chaos/svc-1 UDP/9000',
        expr: [
          { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '203.0.113.9' } },
          { match: { op: '==', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 9000 } },
          { goto: { target: 'svc_9843ff59ba_udp9000_v4' } },
        ],
      },
    },
    dnatRule('ep_9843ff59ba_udp9000_1c5c7b8e', 'chaos-node-0', '10.0.100.10'),
    dnatRule('ep_9843ff59ba_udp9000_0c24d205', 'chaos-node-2', '10.0.102.12'),
    {
      rule: {
        chain: 'svc_9843ff59ba_udp9000_v4',
        expr: [
          {
            vmap: {
              key: { numgen: { mode: 'random', mod: 2, offset: 0 } },
              data: {
                set: [
                  [0, { goto: { target: 'ep_9843ff59ba_udp9000_1c5c7b8e' } }],
                  [1, { goto: { target: 'ep_9843ff59ba_udp9000_0c24d205' } }],
                ],
              },
            },
          },
        ],
      },
    },
  ],
};

describe('the proxy data plane probe', () => {
  it('reads the VIP set and, per Service port, the node NodePorts behind its numgen map', () => {
    const view = forwardingView(JSON.stringify(listing));
    expect(view.vips).toEqual(['192.0.2.0', '203.0.113.9']);
    expect([...view.ports.keys()]).toEqual(['chaos/svc-1 UDP/9000']);
    const port = view.ports.get('chaos/svc-1 UDP/9000')!;
    expect(port.targets).toEqual(['10.0.100.10:54245', '10.0.102.12:54245']);
    expect(port.match).toContain('"203.0.113.9"');
  });

  it('an empty table holds nothing', () => {
    const view = forwardingView('{"nftables":[]}');
    expect(view.vips).toEqual([]);
    expect(view.ports.size).toBe(0);
  });
});

import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { VipInterface } from './vip-interface.ts';

const root = process.getuid?.() === 0;
if (!root) console.warn('skipping VIP interface tests: needs root (CAP_NET_ADMIN, ip netns)');

const ns = `lbpt${process.pid}-vip`;
const ip = (...args: string[]): string => execFileSync('ip', ['-n', ns, ...args]).toString();

(root ? describe : describe.skip)('VIP interface (in a scratch network namespace)', () => {
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });
  it('creates its interface (dummy, else a bridge), owns its addresses, and converges without duplicates', async () => {
    const vip = new VipInterface({ name: 'lbp0', netns: ns });
    await vip.ensure();
    await vip.sync(['10.213.9.1', 'fd00:213:9::1']);
    await vip.ensure(); // adopting our own interface again is fine
    await vip.sync(['10.213.9.1', '10.213.9.2']);
    const addrs = ip('-o', 'addr', 'show', 'dev', 'lbp0');
    expect(addrs.match(/10\.213\.9\.1\//g)).toHaveLength(1);
    expect(addrs).toContain('10.213.9.2/32');
    expect(addrs).not.toContain('fd00:213:9::1');
    expect(ip('-d', 'link', 'show', 'lbp0')).toMatch(/alias owner=lb-provisioner/);
    await vip.destroy();
    expect(() => ip('link', 'show', 'lbp0')).toThrow();
  });

  it('refuses an interface of that name it did not create', async () => {
    ip('link', 'add', 'lbp1', 'type', 'bridge');
    await expect(new VipInterface({ name: 'lbp1', netns: ns }).ensure()).rejects.toThrow(
      /interface lbp1 exists and is not ours/,
    );
    expect(ip('link', 'show', 'lbp1')).toContain('lbp1');
  });

  it("takes over another lb-provisioner's leftover only when told its owner is gone; never a foreign one", async () => {
    ip('link', 'add', 'lbp2', 'type', 'bridge');
    ip('link', 'set', 'lbp2', 'alias', 'owner=lb-provisioner/old');
    const vip = new VipInterface({ name: 'lbp2', netns: ns, ownerTag: 'lb-provisioner/new' });
    await expect(vip.ensure()).rejects.toThrow(
      'interface lbp2 was made by another lb-provisioner (alias "owner=lb-provisioner/old") that may still run on this host; stop it, or remove the leftover with `lb-provisioner cleanup --vip-interface lbp2` (or `ip link del lbp2`)',
    );
    await vip.ensure({ takeOver: true });
    expect(ip('-d', 'link', 'show', 'lbp2')).toContain('alias owner=lb-provisioner/new');
    await expect(new VipInterface({ name: 'lbp1', netns: ns }).ensure({ takeOver: true })).rejects.toThrow(
      /interface lbp1 exists and is not ours/,
    );
    expect(await vip.removeLeftovers()).toEqual(['interface lbp2 (owner=lb-provisioner/new)']);
    expect(() => ip('link', 'show', 'lbp2')).toThrow();
    await expect(new VipInterface({ name: 'lbp1', netns: ns }).removeLeftovers()).rejects.toThrow(/not ours/);
  });

  it('on lo, only touches addresses it added (and leaves 127/8, already local, alone)', async () => {
    ip('link', 'set', 'lo', 'up');
    ip('addr', 'add', '10.213.9.50/32', 'dev', 'lo');
    const vip = new VipInterface({ name: 'lo', netns: ns });
    await vip.sync(['127.0.9.1', '10.213.9.51']);
    expect(ip('-o', 'addr', 'show', 'dev', 'lo')).toMatch(/10\.213\.9\.51\/32 .*lo:lbp/);
    await vip.sync([]);
    const after = ip('-o', 'addr', 'show', 'dev', 'lo');
    expect(after).not.toContain('10.213.9.51');
    expect(after).toContain('10.213.9.50');
    expect(after).not.toContain('127.0.9.1');
  });
});

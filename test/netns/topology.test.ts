import { describe, it, expect } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { cleanupStaleNamespaces, netnsSupport, Topology } from './topology.ts';

const support = netnsSupport();
if (!support.ok) console.warn(`skipping netns helper tests: ${support.reason}`);

(support.ok ? describe : describe.skip)('test hosts in network namespaces', () => {
  it('removes what a crashed run left (its PID is gone), and nothing of a live run', async () => {
    const deadPid = spawnSync('true').pid!;
    const stale = `lbpt${deadPid}-client`;
    const live = `lbpt${process.pid}-keep`;
    execFileSync('ip', ['netns', 'add', stale]);
    execFileSync('ip', ['netns', 'add', live]);
    try {
      expect(await cleanupStaleNamespaces()).toContain(stale);
      const left = execFileSync('ip', ['netns', 'list']).toString();
      expect(left).not.toContain(stale);
      expect(left).toContain(live);
    } finally {
      execFileSync('ip', ['netns', 'del', live]);
    }
  });

  it('builds hosts on one bridge that reach each other over IPv4 and IPv6, and tears them down', async () => {
    const topo = await Topology.create({ hosts: { a: 2, b: 3 }, subnet: 7 });
    try {
      await topo.exec('a', 'ping', ['-c1', '-W2', topo.addr4('b')]);
      await topo.exec('a', 'ping', ['-c1', '-W2', topo.addr6('b')]);
      expect(await topo.exec('b', 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'])).toContain('10.213.7.3/24');
    } finally {
      await topo.destroy();
    }
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(topo.ns('a'));
  });
});

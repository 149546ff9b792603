import { describe, it, expect, afterEach } from '@jest/globals';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HealthChecker, PROXY_HEALTH_TIMING, networkProber } from './health-checker.ts';
import type { HealthTransition, ProbeSpec } from './health-checker.ts';
import { aLoadBalancer } from '../../../test/builders/proxied-load-balancer.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function healthServer(status: () => number): Promise<number> {
  const s = createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? status() : 404;
    res.end();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

// 3x the 2 s the design promises: a loose bound for a shared, loaded 2-core machine (failover time is a
// benchmark's figure, not a unit test's)
const FAILOVER_BOUND_MS = 6_000;

describe('health checker', () => {
  it('takes a node that stops answering (every probe waits its timeout) out at the default timing (2 s by design)', async () => {
    let stalled = false;
    const s = createServer((req, res) => {
      if (stalled) return; // accept, never answer: what a black-holed node looks like to an HTTP check
      res.statusCode = req.url === '/healthz' ? 200 : 404;
      res.end();
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    const hc = new HealthChecker({ prober: (p: ProbeSpec) => networkProber({ ...p, address: '127.0.0.1', port }) });
    const base = aLoadBalancer({ targets: [{ name: 'node1', addresses: ['10.0.0.11'] }] });
    const lb = { ...base, healthCheck: { ...base.healthCheck, ...PROXY_HEALTH_TIMING } };
    try {
      hc.setService('default/web', lb);
      await hc.firstRound('default/web', 2000);
      expect([...hc.healthy('default/web', 'node')]).toEqual(['node1']);
      // the worst case starts right after a passing probe
      await new Promise((r) => setTimeout(r, 50));
      stalled = true;
      const stalledAt = Date.now();
      while (hc.healthy('default/web', 'node').has('node1')) await new Promise((r) => setTimeout(r, 20));
      expect(Date.now() - stalledAt).toBeLessThan(FAILOVER_BOUND_MS);
    } finally {
      hc.close();
      s.closeAllConnections();
    }
  });

  it('decides a new target at once, takes a failing one out after the threshold (2 s by design), and back in', async () => {
    let node2 = 200;
    const port = await healthServer(() => 200);
    const port2 = await healthServer(() => node2);
    const transitions: HealthTransition[] = [];
    // both "nodes" answer on their own port: route the probe by target address
    const hc = new HealthChecker({
      prober: (p: ProbeSpec) =>
        networkProber({ ...p, address: '127.0.0.1', port: p.address === '10.0.0.12' ? port2 : port }),
      onTransition: (t) => transitions.push(t),
    });
    const lb = aLoadBalancer({
      targets: [
        { name: 'node1', addresses: ['10.0.0.11'] },
        { name: 'node2', addresses: ['10.0.0.12'] },
      ],
    });
    try {
      hc.setService('default/web', lb);
      await hc.firstRound('default/web', 2000);
      expect([...hc.healthy('default/web', 'node')].sort()).toEqual(['node1', 'node2']);
      node2 = 503;
      const failedAt = Date.now();
      while (hc.healthy('default/web', 'node').has('node2')) await new Promise((r) => setTimeout(r, 20));
      expect(Date.now() - failedAt).toBeLessThan(FAILOVER_BOUND_MS);
      expect(transitions).toEqual([
        { service: 'default/web', target: 'node2', check: 'HTTP :10256/healthz', healthy: false, reason: 'HTTP 503' },
      ]);
      node2 = 200;
      while (!hc.healthy('default/web', 'node').has('node2')) await new Promise((r) => setTimeout(r, 20));
      expect(transitions.at(-1)).toMatchObject({ target: 'node2', healthy: true });
    } finally {
      hc.close();
    }
  });

  it('reports refused and timed-out probes as failures with a reason', async () => {
    const refused = await networkProber({
      protocol: 'HTTP',
      address: '127.0.0.1',
      port: 1,
      path: '/healthz',
      timeoutMs: 500,
    });
    expect(refused.ok).toBe(false);
    expect(refused.reason).toMatch(/ECONNREFUSED/);
    const tcp = await networkProber({
      protocol: 'TCP',
      address: '127.0.0.1',
      port: await healthServer(() => 200),
      path: '',
      timeoutMs: 500,
    });
    expect(tcp).toEqual({ ok: true, reason: 'connected' });
  });
});

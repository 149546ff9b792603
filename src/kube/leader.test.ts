/**
 * Leader election against a real apiserver, reached through a TCP relay the test can freeze: the
 * connections stay open and nothing answers, as when an apiserver or the network to it hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { startControlPlane, type ControlPlane } from '../devcluster/controlplane.ts';
import { silentLogger } from '../log.ts';
import { LeaderElector } from './leader.ts';

interface Relay {
  port: number;
  freeze(): void;
  close(): Promise<void>;
}

async function startRelay(targetPort: number): Promise<Relay> {
  const sockets = new Set<Socket>();
  let frozen = false;
  const server: Server = createServer((down) => {
    const up = connect(targetPort, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    // forward by hand so a freeze stops the bytes but keeps both connections open
    down.on('data', (d: Buffer) => void (frozen || up.write(d)));
    up.on('data', (d: Buffer) => void (frozen || down.write(d)));
    down.on('end', () => up.end());
    up.on('end', () => down.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    freeze: () => void (frozen = true),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('LeaderElector', () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('a renew that hangs is bounded by the renew deadline: the leader stops at once', async () => {
    const relay = await startRelay(Number(new URL(cp.url).port));
    const kc = cp.kubeConfig();
    const cluster = kc.getCurrentCluster()!;
    kc.clusters = [{ ...cluster, server: `https://127.0.0.1:${relay.port}` }];
    let started = 0;
    let stopped = 0;
    const elector = new LeaderElector(kc, {
      namespace: 'default',
      name: 'hang',
      identity: 'a',
      leaseDurationMs: 4000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
      log: silentLogger(),
      onStartedLeading: () => void (started = Date.now()),
      onStoppedLeading: () => void (stopped = Date.now()),
    });
    try {
      elector.start();
      await until(() => started > 0, 10_000);
      // let a renew or two pass, then nothing answers any more
      await new Promise((r) => setTimeout(r, 1200));
      relay.freeze();
      const frozenAt = Date.now();
      await until(() => stopped > 0, 10_000);
      // the last good renew was at most one retry period before the freeze; the deadline is 2 s after it
      expect(stopped - frozenAt).toBeLessThan(2000 + 1000);
      expect(elector.isLeader).toBe(false);
    } finally {
      await elector.stop({ release: false });
      await relay.close();
    }
  }, 30_000);

  it('releasing the lease on stop is bounded too', async () => {
    const relay = await startRelay(Number(new URL(cp.url).port));
    const kc = cp.kubeConfig();
    kc.clusters = [{ ...kc.getCurrentCluster()!, server: `https://127.0.0.1:${relay.port}` }];
    let leading = false;
    const elector = new LeaderElector(kc, {
      namespace: 'default',
      name: 'release',
      identity: 'a',
      leaseDurationMs: 4000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 500,
      log: silentLogger(),
      onStartedLeading: () => void (leading = true),
      onStoppedLeading: () => void (leading = false),
    });
    elector.start();
    await until(() => leading, 10_000);
    relay.freeze();
    const t0 = Date.now();
    await elector.stop({ release: true });
    expect(Date.now() - t0).toBeLessThan(2000 + 1000);
    await relay.close();
  }, 30_000);
});

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

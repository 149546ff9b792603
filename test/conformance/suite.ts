/**
 * The suite every provider must pass: ensure is idempotent (a second call changes nothing), port,
 * protocol, node and health-check changes converge, delete is idempotent and leaves nothing owned
 * behind, list() finds everything it made, errors carry reasons.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DesiredLoadBalancer, LoadBalancerProvider } from '../../src/provider.ts';
import { isProviderError } from '../../src/provider.ts';
import { aLoadBalancer } from '../builders/load-balancer.ts';

export interface ConformanceSubject {
  provider: LoadBalancerProvider;
  /** how many resources this provider holds for the cluster (0 after everything is deleted) */
  ownedResources(): Promise<number>;
  /** a load balancer the provider must refuse with a typed error */
  invalid(lb: DesiredLoadBalancer): DesiredLoadBalancer;
  /** the provider applies no configuration (the local provider with data plane none): changes report changed=false */
  configless?: boolean;
  /**
   * What the provider really programmed for a load balancer (its data plane's or cloud's state, not its
   * answer), undefined when it holds nothing: the suite checks every change reached it, so a provider
   * that ignores changes cannot pass. Subjects without it are only held to `changed`.
   */
  observe?(lb: DesiredLoadBalancer): Promise<ObservedLoadBalancer | undefined>;
  /** prepare a load balancer for this provider (e.g. targets that exist in its cloud) */
  adapt?(lb: DesiredLoadBalancer): DesiredLoadBalancer;
  close(): Promise<void>;
}

/** A load balancer as programmed, in provider-neutral terms. */
export interface ObservedLoadBalancer {
  /** `80/TCP`, one per port served */
  ports: string[];
  /** names of the nodes traffic goes to */
  targets: string[];
  /** the health check as run against the nodes, where the subject can see it */
  healthCheck?: { protocol: string; port: number; path: string };
}

export function runConformance(
  name: string,
  setup: () => Promise<ConformanceSubject>,
  options: { timeoutMs?: number } = {},
): void {
  describe(`provider conformance: ${name}`, () => {
    let s: ConformanceSubject;
    const signal = new AbortController().signal;
    const adapt = (lb: DesiredLoadBalancer): DesiredLoadBalancer => (s.adapt ? s.adapt(lb) : lb);
    const timeout = options.timeoutMs ?? 60_000;
    /** where the subject can observe it: what is programmed is exactly what `lb` asks for */
    const expectProgrammed = async (lb: DesiredLoadBalancer): Promise<void> => {
      if (!s.observe) return;
      const observed = await s.observe(lb);
      expect(observed).toBeDefined();
      expect([...observed!.ports].sort()).toEqual(lb.ports.map((p) => `${p.port}/${p.protocol}`).sort());
      expect([...new Set(observed!.targets)].sort()).toEqual(lb.targets.map((t) => t.name).sort());
      if (observed!.healthCheck && lb.healthCheck.port !== 'traffic-port')
        expect(observed!.healthCheck).toEqual({
          protocol: lb.healthCheck.protocol,
          port: lb.healthCheck.port,
          path: lb.healthCheck.path ?? '/healthz',
        });
    };
    const expectNothingProgrammed = async (lb: DesiredLoadBalancer): Promise<void> => {
      if (s.observe) expect(await s.observe(lb)).toBeUndefined();
    };
    /** a changed load balancer reports changed once (where the provider applies configuration), then never again */
    const expectConverges = async (lb: DesiredLoadBalancer): Promise<void> => {
      const first = await s.provider.ensure(lb, signal);
      expect(first.changed).toBe(!s.configless);
      await expectProgrammed(lb);
      expect((await s.provider.ensure(lb, signal)).changed).toBe(false);
      await expectProgrammed(lb);
    };

    beforeAll(async () => {
      s = await setup();
    }, timeout * 2);
    afterAll(async () => {
      await s?.close();
    }, timeout);

    it(
      'ensure creates a load balancer with an address and a second ensure changes nothing',
      async () => {
        const lb = adapt(aLoadBalancer('idem').withPorts(80).withTargets('n1', 'n2').build());
        const first = await s.provider.ensure(lb, signal);
        expect(first.changed).toBe(true);
        expect(first.ingress.length).toBeGreaterThan(0);
        expect(first.ingress.every((i) => Boolean(i.ip ?? i.hostname))).toBe(true);
        await expectProgrammed(lb);
        const second = await s.provider.ensure(lb, signal);
        expect(second.changed).toBe(false);
        expect(second.ingress).toEqual(first.ingress);
        await s.provider.delete(lb.ref, signal);
        await expectNothingProgrammed(lb);
      },
      timeout,
    );

    it(
      'port and protocol changes converge',
      async () => {
        const base = aLoadBalancer('ports').withPorts(80).withTargets('n1');
        const lb = adapt(base.build());
        await s.provider.ensure(lb, signal);
        await expectConverges({
          ...lb,
          ports: [...lb.ports, { name: 'dns', protocol: 'UDP' as const, port: 53, nodePort: 30053 }],
        });
        await expectConverges({ ...lb, ports: [{ ...lb.ports[0]!, port: 8080 }] });
        await expectConverges({ ...lb, ports: [{ ...lb.ports[0]!, port: 8080, protocol: 'UDP' as const }] });
        await s.provider.delete(lb.ref, signal);
        await expectNothingProgrammed(lb);
      },
      timeout,
    );

    it(
      'node changes through updateTargets leave nothing for ensure to do',
      async () => {
        const lb = adapt(aLoadBalancer('nodes').withPorts(443).withTargets('n1', 'n2').build());
        await s.provider.ensure(lb, signal);
        const grown = adapt({
          ...lb,
          targets: adapt(aLoadBalancer('x').withTargets('n1', 'n2', 'n3').build()).targets,
        });
        await expectProgrammed(lb);
        await s.provider.updateTargets(grown, signal);
        await expectProgrammed(grown);
        expect((await s.provider.ensure(grown, signal)).changed).toBe(false);
        await expectProgrammed(grown);
        const shrunk = adapt({ ...lb, targets: grown.targets.slice(0, 1) });
        await s.provider.updateTargets(shrunk, signal);
        await expectProgrammed(shrunk);
        expect((await s.provider.ensure(shrunk, signal)).changed).toBe(false);
        await expectProgrammed(shrunk);
        await s.provider.delete(lb.ref, signal);
        await expectNothingProgrammed(lb);
      },
      timeout,
    );

    it(
      'health-check changes converge',
      async () => {
        const lb = adapt(aLoadBalancer('health').withPorts(80).withTargets('n1').build());
        await s.provider.ensure(lb, signal);
        await expectProgrammed(lb);
        await expectConverges({ ...lb, healthCheck: { ...lb.healthCheck, path: '/ready', healthyThreshold: 3 } });
        const { path: _path, ...withoutPath } = lb.healthCheck;
        await expectConverges({ ...lb, healthCheck: { ...withoutPath, protocol: 'TCP', port: 10257 } });
        await s.provider.delete(lb.ref, signal);
        await expectNothingProgrammed(lb);
      },
      timeout,
    );

    it(
      'list() finds every load balancer it made, and delete is idempotent and leaves nothing behind',
      async () => {
        const lbs = ['a', 'b', 'c'].map((n) =>
          adapt(aLoadBalancer(`list-${n}`).withPorts(80).withTargets('n1').build()),
        );
        for (const lb of lbs) await s.provider.ensure(lb, signal);
        const listed = (await s.provider.list(signal)).map((r) => r.uid);
        for (const lb of lbs) expect(listed).toContain(lb.ref.uid);
        for (const lb of lbs) {
          await s.provider.delete(lb.ref, signal);
          await s.provider.delete(lb.ref, signal);
        }
        const after = (await s.provider.list(signal)).map((r) => r.uid);
        for (const lb of lbs) expect(after).not.toContain(lb.ref.uid);
        expect(await s.ownedResources()).toBe(0);
      },
      timeout,
    );

    it(
      'delete of something never built succeeds',
      async () => {
        const lb = adapt(aLoadBalancer('never').withPorts(80).build());
        await expect(s.provider.delete(lb.ref, signal)).resolves.toBeUndefined();
      },
      timeout,
    );

    it(
      'errors carry reasons',
      async () => {
        const lb = s.invalid(adapt(aLoadBalancer('bad').withPorts(80).withTargets('n1').build()));
        const err = await s.provider.ensure(lb, signal).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isProviderError(err)).toBe(true);
        expect((err as { reason: string }).reason).toMatch(/^[A-Z][A-Za-z]+$/);
        expect((err as Error).message.length).toBeGreaterThan(10);
        await s.provider.delete(lb.ref, signal);
        expect(await s.ownedResources()).toBe(0);
      },
      timeout,
    );
  });
}

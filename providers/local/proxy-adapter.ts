/**
 * Fits the proxy data plane to the local provider's LocalDataPlane seam: the Ready condition's message
 * (stable: no counts, it must not flap with the number of healthy nodes) and Events on health changes.
 */
import type { DesiredLoadBalancer, PortStatus } from '../../src/provider.ts';
import type { ProxyDataplane, ProxyServiceStatus } from './dataplane/proxy-dataplane.ts';
import type { LocalDataPlane } from './provider.ts';

export type HealthEventSink = (key: string, type: 'Normal' | 'Warning', reason: string, message: string) => void;

export function readyMessage(status: Pick<ProxyServiceStatus, 'failOpen' | 'healthyTargets'>): string {
  if (status.failOpen) return 'no node passes its health check: forwarding to every node (fail open)';
  if (status.healthyTargets.length === 0)
    return 'no node passes its health check: connections are refused (fail closed)';
  return 'forwarding to the nodes that pass their health check';
}

export class ProxyDataPlaneAdapter implements LocalDataPlane {
  private readonly dp: ProxyDataplane;
  private unsubscribe: (() => void) | undefined;

  constructor(dp: ProxyDataplane) {
    this.dp = dp;
  }

  /** Health transitions become Events; a fail-open change asks for a sync so the condition follows. */
  watch(events: HealthEventSink, requeue: (keys: string[]) => void): void {
    this.unsubscribe?.();
    this.unsubscribe = this.dp.onTransition((e) => {
      if (e.kind === 'TargetHealth') {
        events(
          e.service,
          e.healthy ? 'Normal' : 'Warning',
          e.healthy ? 'TargetHealthy' : 'TargetUnhealthy',
          `node ${e.target} ${e.healthy ? 'passes' : 'fails'} its health check${e.reason ? `: ${e.reason}` : ''}`,
        );
      } else {
        events(
          e.service,
          e.active ? 'Warning' : 'Normal',
          e.active ? 'NoHealthyTargets' : 'HealthyTargets',
          e.active ? readyMessage({ failOpen: true, healthyTargets: [] }) : 'nodes pass their health checks again',
        );
        requeue([e.service]);
      }
    });
  }

  start(initial: { key: string; vips: string[]; lb: DesiredLoadBalancer }[]): Promise<void> {
    return this.dp.start(initial);
  }

  async ensureService(
    key: string,
    vips: string[],
    lb: DesiredLoadBalancer,
  ): Promise<{ ports?: PortStatus[]; changed?: boolean; message?: string }> {
    const status = await this.dp.ensureService(key, vips, lb);
    return { ports: status.ports, changed: status.changed, message: readyMessage(status) };
  }

  status(key: string): ProxyServiceStatus | undefined {
    return this.dp.status(key);
  }

  updateTargets(key: string, lb: DesiredLoadBalancer): Promise<void> {
    return this.dp.updateTargets(key, lb);
  }

  removeService(key: string): Promise<void> {
    return this.dp.removeService(key);
  }

  async close(): Promise<void> {
    this.unsubscribe?.();
    await this.dp.close();
  }

  async teardown(): Promise<void> {
    this.unsubscribe?.();
    await this.dp.teardown();
  }
}

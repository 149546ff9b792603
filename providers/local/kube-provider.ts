/** The local provider as the controller runs it: pools from flags and IPPool objects, and the proxy data plane. */
import type { Logger } from 'pino';
import type { ProviderContext } from '../../src/provider.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { poolFlagErrors, poolsFromFlags } from './pool.ts';
import { LocalProvider } from './provider.ts';
import { IPPoolWatcher } from './kube-pools.ts';
import { ProxyDataplane } from './dataplane/proxy-dataplane.ts';
import { PROXY_HEALTH_TIMING } from './dataplane/health-checker.ts';
import { ProxyDataPlaneAdapter } from './proxy-adapter.ts';

export interface LocalProviderConfig {
  clusterName: string;
  /** --pool values */
  pools: readonly string[];
  /** none: addresses only; proxy: this host forwards; l2: the speakers (lb-provisioner speaker) announce */
  dataplane: 'none' | 'proxy' | 'l2';
  proxyBackend?: 'auto' | 'nftables' | 'userspace';
  vipInterface?: string;
  /** nftables table (default lbprovisioner) and host lock name: an embedder that runs beside `run` (the demo) */
  nftTable?: string;
  lockName?: string;
  log: Logger;
}

/** A LocalProvider that also watches IPPool objects once it runs, and drives the proxy data plane. */
export class KubeLocalProvider extends LocalProvider {
  private watcher: IPPoolWatcher | undefined;
  private readonly flagPools;
  private readonly proxy: ProxyDataPlaneAdapter | undefined;

  constructor(config: LocalProviderConfig) {
    const { pools, errors } = poolsFromFlags(config.pools);
    if (errors.length > 0) throw new ConfigError(poolFlagErrors(errors).join('\n'));
    const proxy =
      config.dataplane === 'proxy'
        ? new ProxyDataPlaneAdapter(
            new ProxyDataplane({
              backend: config.proxyBackend ?? 'auto',
              vipInterface: config.vipInterface ?? 'lbp0',
              ...(config.nftTable ? { nftTable: config.nftTable } : {}),
              ...(config.lockName ? { lockName: config.lockName } : {}),
              ownerTag: `lb-provisioner/${config.clusterName}`,
              logger: config.log,
            }),
          )
        : undefined;
    super({
      clusterName: config.clusterName,
      pools,
      ...(proxy
        ? {
            dataPlane: proxy,
            capabilities: { needsNodePorts: true, ipMode: 'Proxy' as const },
            healthCheck: { defaults: PROXY_HEALTH_TIMING },
          }
        : {}),
    });
    this.flagPools = pools;
    this.proxy = proxy;
  }

  override async start(ctx: ProviderContext): Promise<void> {
    await super.start(ctx);
    this.proxy?.watch(ctx.event, (keys) => ctx.requeue(keys));
    await this.watcher?.stop();
    this.watcher = new IPPoolWatcher(ctx.kubeConfig, this, this.flagPools, ctx.log, ctx.objectEvent);
    await this.watcher.start();
  }

  /** Which back end forwards, and which targets pass their health checks (the demo's table). */
  proxyStatus(key: string): { backend: string; healthyTargets: string[] } | undefined {
    return this.proxy?.status(key);
  }

  /** Remove everything the data plane made on this host (the demo's Ctrl-C; close() keeps it for a restart). */
  async teardown(): Promise<void> {
    await this.proxy?.teardown();
  }

  override async close(): Promise<void> {
    await this.watcher?.stop();
    await super.close();
  }
}

/** The local provider's public entry: what the CLI builds. Nothing outside this folder imports deeper. */
import type { Logger } from 'pino';
import type { LoadBalancerProvider, ProviderContext } from '../../src/provider.ts';
import { ConfigError } from '../../src/config/config.ts';
import { poolsFromFlags } from './pool.ts';
import { LocalProvider, type LocalDataPlane } from './provider.ts';
import { IPPoolWatcher } from './kube-pools.ts';

export { localAnnotations } from './annotations.ts';

export interface LocalProviderConfig {
  clusterName: string;
  /** --pool values */
  pools: readonly string[];
  dataplane: 'none' | 'proxy';
  log: Logger;
  /** a data plane built by the caller (the proxy data plane), absent for 'none' */
  dataPlane?: LocalDataPlane;
}

/** A LocalProvider that also watches IPPool objects once it runs. */
export class KubeLocalProvider extends LocalProvider {
  private watcher: IPPoolWatcher | undefined;
  private readonly flagPools;

  constructor(config: LocalProviderConfig) {
    const { pools, errors } = poolsFromFlags(config.pools);
    if (errors.length > 0) throw new ConfigError(errors.map((e) => `--pool: ${e.message}`).join('\n'));
    super({
      clusterName: config.clusterName,
      pools,
      ...(config.dataPlane ? { dataPlane: config.dataPlane, capabilities: { needsNodePorts: true, ipMode: 'Proxy' as const } } : {}),
    });
    this.flagPools = pools;
  }

  override async start(ctx: ProviderContext): Promise<void> {
    await super.start(ctx);
    await this.watcher?.stop();
    this.watcher = new IPPoolWatcher(ctx.kubeConfig, this, this.flagPools, ctx.log);
    await this.watcher.start();
  }

  override async close(): Promise<void> {
    await this.watcher?.stop();
    await super.close();
  }
}

export async function createLocalProvider(config: LocalProviderConfig): Promise<LoadBalancerProvider> {
  if (config.dataplane === 'proxy' && !config.dataPlane) {
    throw new ConfigError('--dataplane: proxy is not available in this build yet; use none');
  }
  return new KubeLocalProvider(config);
}

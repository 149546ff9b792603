/**
 * Builds the providers a Config asks for. Providers load lazily, so a controller that runs only the
 * local provider never loads a cloud SDK.
 */
import type { Config, ProviderName } from '../config/config.ts';
import type { LoadBalancerProvider } from '../provider.ts';
import type { Logger } from '../log.ts';
import { ConfigError } from '../config/config.ts';

export async function createProvider(name: ProviderName, config: Config, log: Logger): Promise<LoadBalancerProvider> {
  switch (name) {
    case 'fake': {
      const { FakeProvider, fakeOptionsFromEnv } = await import('../../providers/fake/provider.ts');
      return new FakeProvider(fakeOptionsFromEnv(process.env));
    }
    case 'local': {
      const { createLocalProvider } = await import('../../providers/local/index.ts');
      return createLocalProvider({
        clusterName: config.clusterName,
        pools: config.pool,
        dataplane: config.dataplane,
        proxyBackend: config.proxyBackend,
        vipInterface: config.vipInterface,
        log,
      });
    }
    case 'aws': {
      const { createAwsProvider } = await import('../../providers/aws/index.ts');
      return createAwsProvider({
        clusterName: config.clusterName,
        adopt: config.awsAdopt,
        quotaPrecheck: config.awsQuotaPrecheck,
        nodePortRange: config.nodePortRange,
        log,
        ...(config.awsRegion ? { region: config.awsRegion } : {}),
        ...(config.awsEndpoint ? { endpoint: config.awsEndpoint } : {}),
      });
    }
    case 'azure':
      throw new ConfigError('--provider: azure is not available in this release yet');
  }
}

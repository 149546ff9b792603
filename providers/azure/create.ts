/**
 * Builds the Azure provider from its validated flags (loaded only when `--provider azure` runs: it loads the
 * SDKs). Credentials come from @azure/identity's DefaultAzureCredential: environment (a service principal),
 * workload identity, managed identity. Nothing secret is logged: the credential never reaches our logger.
 */
import { DefaultAzureCredential } from '@azure/identity';
import type { Logger } from 'pino';
import { AzureProvider } from './provider.ts';
import type { AzureFlags } from './flags.ts';

export function createAzureProvider(flags: AzureFlags, clusterName: string, log: Logger): AzureProvider {
  const authorityHost = flags.azureAuthorityHost ?? process.env['AZURE_AUTHORITY_HOST'];
  const credential = new DefaultAzureCredential({
    ...(authorityHost ? { authorityHost } : {}),
    // a custom authority (sovereign cloud, the test fake) has no instance-discovery endpoint of its own
    ...(flags.azureAuthorityHost ? { disableInstanceDiscovery: true } : {}),
  });
  log.info(
    {
      subscriptionId: flags.azureSubscriptionId,
      resourceGroup: flags.azureResourceGroup,
      location: flags.azureLocation,
      armEndpoint: flags.azureArmEndpoint ?? 'https://management.azure.com',
    },
    'azure provider: credentials from DefaultAzureCredential',
  );
  return new AzureProvider({
    clusterName,
    subscriptionId: flags.azureSubscriptionId,
    resourceGroup: flags.azureResourceGroup,
    location: flags.azureLocation,
    vnet: flags.azureVnet,
    subnet: flags.azureSubnet,
    nsg: flags.azureNsg,
    credential,
    ...(flags.azureArmEndpoint ? { armEndpoint: flags.azureArmEndpoint } : {}),
    pollIntervalMs: flags.azurePollInterval,
    requestTimeoutMs: flags.azureRequestTimeout,
    log,
  });
}

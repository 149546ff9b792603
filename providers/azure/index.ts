/**
 * The Azure provider's public entry, light enough for every command: its annotations, its flags (all
 * defined in flags.ts), the doctor check, and `azureProvider`, a descriptor in the shape of the provider
 * registry's (name, title, flag specs, a zod schema whose messages name the flag, annotation tables, a lazy
 * create), so that registering it is one line in the registry's list. The SDKs load only in `create`.
 */
import type { Logger } from 'pino';
import type { LoadBalancerProvider } from '../../src/provider.ts';
import { AZURE_ANNOTATIONS } from './annotations.ts';
import { AZURE_FLAG_SPECS, azureOptionsSchema, type AzureFlags } from './flags.ts';

export type { AzureProvider, AzureProviderOptions } from './provider.ts';
export { AZURE_ANNOTATIONS } from './annotations.ts';
export { AZURE_FLAG_SPECS, azureFlagOptions, azureOptionsSchema, parseAzureFlags } from './flags.ts';
export { conflictingPoolMembers, nodesInOtherPublicLoadBalancers } from './doctor.ts';

export const azureProvider = {
  name: 'azure',
  title: 'Azure provider',
  flags: AZURE_FLAG_SPECS,
  options: azureOptionsSchema,
  annotations: [{ title: 'Azure provider', rows: AZURE_ANNOTATIONS }],
  create: async (options: AzureFlags, shared: { clusterName: string; log: Logger }): Promise<LoadBalancerProvider> => {
    const { createAzureProvider } = await import('./create.ts');
    return createAzureProvider(options, shared.clusterName, shared.log);
  },
};

/**
 * The Azure provider's public entry, light enough for every command: its annotations, its flags (all
 * defined in flags.ts), the doctor check, and `azureProvider`, its descriptor in the provider registry
 * (src/providers.ts). The SDKs load only in `create`.
 */
import type { ProviderDescriptor } from '../../src/provider-descriptor.ts';
import { AZURE_ANNOTATIONS } from './annotations.ts';
import { AZURE_FLAG_SPECS, azureOptionsSchema, type AzureFlags } from './flags.ts';

export type { AzureProvider, AzureProviderOptions } from './provider.ts';
export { AZURE_ANNOTATIONS } from './annotations.ts';
export { AZURE_FLAG_SPECS, azureOptionsSchema, parseAzureFlags } from './flags.ts';
export { conflictingPoolMembers, nodesInOtherPublicLoadBalancers } from './doctor.ts';

export const azureProvider: ProviderDescriptor<AzureFlags> = {
  name: 'azure',
  title: 'Azure provider',
  flags: AZURE_FLAG_SPECS,
  options: azureOptionsSchema,
  annotations: [{ title: 'Azure provider', rows: AZURE_ANNOTATIONS }],
  doctor: async (o, ctx) => (await import('./doctor-hook.ts')).azureDoctor(o, ctx),
  create: async (options, shared) => {
    const { createAzureProvider } = await import('./create.ts');
    return createAzureProvider(options, shared.clusterName, shared.log);
  },
};

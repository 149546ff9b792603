/**
 * Every provider this build knows. Adding a provider is its folder (with a descriptor in its index.ts) and
 * one line here: the CLI's flags, the configuration's validation and the README's flag and annotation
 * tables all come from this list.
 */
import type { ProviderDescriptor } from './provider-descriptor.ts';
import { awsProvider } from '../providers/aws/index.ts';
import { azureProvider } from '../providers/azure/index.ts';
import { fakeProvider } from '../providers/fake/index.ts';
import { localProvider } from '../providers/local/index.ts';

export const PROVIDERS: readonly ProviderDescriptor[] = [localProvider, awsProvider, azureProvider, fakeProvider];

export const PROVIDER_NAMES: readonly string[] = PROVIDERS.map((p) => p.name);

export function providerNamed(name: string): ProviderDescriptor | undefined {
  return PROVIDERS.find((p) => p.name === name);
}

/** The AWS provider's entry point for the CLI (loaded lazily, so only `--provider aws` loads the SDK). */
import { AwsProvider } from './provider.ts';
import type { AwsProviderOptions } from './provider.ts';

export { AwsProvider } from './provider.ts';
export type { AwsProviderOptions } from './provider.ts';
export { AWS_ANNOTATIONS } from './annotations.ts';

export function createAwsProvider(options: AwsProviderOptions): AwsProvider {
  return new AwsProvider(options);
}

/** The fake provider's descriptor: no flags, no annotations; for tests and for trying the controller out. */
import { z } from 'zod';
import type { ProviderDescriptor } from '../../src/provider-descriptor.ts';

export const fakeProvider: ProviderDescriptor<Record<string, never>> = {
  name: 'fake',
  title: 'Fake provider',
  flags: [],
  options: z.object({}).transform(() => ({})),
  annotations: [],
  create: async () => {
    const { FakeProvider } = await import('./provider.ts');
    return new FakeProvider();
  },
};

/** The fake provider's descriptor: no annotations; for tests, benchmarks and trying the controller out. */
import * as z from '../../src/config/zod.ts';
import type { ProviderDescriptor } from '../../src/provider-descriptor.ts';

const options = z.object({
  fakeLatencyMs: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d+$/, { message: '--fake-latency-ms: expected a whole number of milliseconds' })),
      z.transform(Number),
    ),
  ),
  fakeCallLines: z.boolean(),
});

export const fakeProvider: ProviderDescriptor<z.output<typeof options>> = {
  name: 'fake',
  title: 'Fake provider',
  flags: [
    {
      flags: '--fake-latency-ms <ms>',
      default: '0',
      description: 'every ensure, updateTargets and delete answers after this long (benchmarks)',
    },
    {
      flags: '--fake-call-lines',
      description:
        'print each answered ensure, updateTargets and delete on stdout as `<call> <namespace>/<name> <number of targets>` (benchmarks time them on arrival)',
    },
  ],
  options,
  annotations: [],
  doctor: () =>
    Promise.resolve([
      { check: 'fake: provider', result: 'OK', detail: 'in memory; nothing to reach (tests and trials only)' },
    ]),
  create: async (o) => {
    const { FakeProvider, callLine } = await import('./provider.ts');
    return new FakeProvider({
      ...(o.fakeLatencyMs ? { latencyMs: o.fakeLatencyMs } : {}),
      ...(o.fakeCallLines ? { onAnswered: (call) => process.stdout.write(`${callLine(call)}\n`) } : {}),
    });
  },
};

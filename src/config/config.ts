/**
 * Flags + environment -> one validated Config. Every flag can also be set by an environment variable
 * (LBP_ + the flag name in upper snake case); a bad value is an error naming the flag, before anything
 * starts. A provider's flags are validated by its descriptor, and refused when that provider is not running.
 */
import { hostname } from 'node:os';
import type { LoadBalancerProvider } from '../provider.ts';
import type { SharedProviderSettings } from '../provider-descriptor.ts';
import { PROVIDERS, PROVIDER_NAMES } from '../providers.ts';
import { durationFlag } from './duration.ts';
import { ConfigError } from './errors.ts';
import { attributeName, envName, longName } from './flag-spec.ts';
import * as z from './zod.ts';

export { ConfigError } from './errors.ts';

/** Option values as commander hands them over (strings, booleans, string lists), keyed by attribute name. */
export type RawOptions = Record<string, unknown>;

/** Where a value came from: commander's option value source ('cli', 'env', 'default', ...). */
export type ValueSource = (attribute: string) => string | undefined;

const duration = (flag: string, min: number) => durationFlag(flag, min, ' (e.g. 10m, 15s, 500ms)');

const bindAddress = z.string().check(
  z.refine((v) => /^(\[[0-9a-fA-F:]+\]|[0-9.]*|[a-zA-Z0-9.-]*):\d{1,5}$/.test(v) || v === '0', {
    message: '--metrics-bind-address: expected host:port (e.g. 127.0.0.1:8080), or 0 to disable',
  }),
);

const providerList = z.array(z.string(), { message: '--provider: at least one provider is required' }).check(
  z.minLength(1, { message: `--provider: at least one provider is required (${PROVIDER_NAMES.join(', ')})` }),
  z.superRefine((names, ctx) => {
    for (const [i, name] of names.entries()) {
      if (!PROVIDER_NAMES.includes(name))
        ctx.addIssue({
          code: 'custom',
          message: `--provider: expected one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
        });
      else if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', message: `--provider: ${name} is given twice` });
    }
  }),
);

/** A non-empty string flag. */
const nonEmpty = (flag: string) => z.string().check(z.minLength(1, { message: `--${flag}: must not be empty` }));

/** A whole number flag between min and max. */
const whole = (flag: string, min: number, max: number) =>
  z
    .pipe(z.string().check(z.regex(/^\d+$/, { message: `--${flag}: must be a whole number` })), z.transform(Number))
    .check(z.refine((n) => n >= min && n <= max, { message: `--${flag}: must be between ${min} and ${max}` }));

/** A duration flag of any length, 0 included (what 0 means is in `hint`). */
const durationOrZero = (flag: string, hint: string) => durationFlag(flag, 0, ` (${hint})`);

const core = z
  .object({
    kubeconfig: z.optional(nonEmpty('kubeconfig')),
    provider: providerList,
    defaultProvider: z.optional(z.string()),
    classOnly: z.boolean(),
    clusterName: z.string().check(
      z.regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
        message: '--cluster-name: must be a DNS label (lowercase letters, digits, -), at most 63 characters',
      }),
    ),
    workers: whole('workers', 1, 256),
    nodeSyncConcurrency: whole('node-sync-concurrency', 1, 4096),
    resyncPeriod: durationOrZero('resync-period', 'e.g. 10m; 0 disables the drift pass'),
    leaderElect: z.boolean(),
    leaderElectNamespace: nonEmpty('leader-elect-namespace'),
    leaderElectName: nonEmpty('leader-elect-name'),
    leaderElectIdentity: z.optional(nonEmpty('leader-elect-identity')),
    leaderElectLeaseDuration: duration('leader-elect-lease-duration', 1000),
    leaderElectRenewDeadline: duration('leader-elect-renew-deadline', 500),
    leaderElectRetryPeriod: duration('leader-elect-retry-period', 100),
    metricsBindAddress: bindAddress,
    apiserverTimeout: durationOrZero('apiserver-timeout', 'e.g. 60s; 0 waits forever'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      message: '--log-level: expected one of trace, debug, info, warn, error, fatal, silent',
    }),
    nodePortRange: z.pipe(
      z.string(),
      z.transform((v: string, ctx) => {
        const m = /^(\d{1,5})-(\d{1,5})$/.exec(v.trim());
        const from = Number(m?.[1]);
        const to = Number(m?.[2]);
        if (!m || from < 1 || to > 65535 || from > to) {
          ctx.issues.push({
            code: 'custom',
            input: v,
            message: `--node-port-range: ${JSON.stringify(v)} is not a port range like 30000-32767`,
          });
          return z.NEVER;
        }
        return { from, to };
      }),
    ),
  })
  .check(
    z.superRefine((c, ctx) => {
      if (c.defaultProvider !== undefined && c.defaultProvider !== '' && !c.provider.includes(c.defaultProvider)) {
        ctx.addIssue({
          code: 'custom',
          message: `--default-provider: ${c.defaultProvider} is not one of the --provider values (${c.provider.join(', ')})`,
        });
      }
      if (c.leaderElectRenewDeadline >= c.leaderElectLeaseDuration) {
        ctx.addIssue({
          code: 'custom',
          message: '--leader-elect-renew-deadline: must be shorter than --leader-elect-lease-duration',
        });
      }
      if (c.leaderElectRetryPeriod >= c.leaderElectRenewDeadline) {
        ctx.addIssue({
          code: 'custom',
          message: '--leader-elect-retry-period: must be shorter than --leader-elect-renew-deadline',
        });
      }
    }),
  );

/** One provider to run, its flags validated. */
export interface ConfiguredProvider {
  name: string;
  /** what its descriptor made of its flags */
  options: unknown;
  create(shared: SharedProviderSettings): Promise<LoadBalancerProvider>;
}

export type Config = Omit<z.output<typeof core>, 'defaultProvider' | 'leaderElectIdentity'> & {
  /** undefined: class-less Services are not ours */
  defaultProvider: string | undefined;
  leaderElectIdentity: string;
  providers: ConfiguredProvider[];
};

export function parseRunConfig(raw: RawOptions, source: ValueSource = () => undefined): Config {
  const problems: string[] = [];
  const parsed = core.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => i.message));
  const selected = Array.isArray(raw['provider']) ? (raw['provider'] as unknown[]) : [];
  const providers: ConfiguredProvider[] = [];
  for (const descriptor of PROVIDERS) {
    const values = Object.fromEntries(descriptor.flags.map((f) => [attributeName(f), raw[attributeName(f)]]));
    if (!selected.includes(descriptor.name)) {
      problems.push(...flagsOfIdleProvider(descriptor.name, descriptor.flags, source));
      continue;
    }
    const options = descriptor.options.safeParse(values);
    if (!options.success) {
      problems.push(...options.error.issues.map((i) => i.message));
      continue;
    }
    providers.push({
      name: descriptor.name,
      options: options.data,
      create: (shared) => descriptor.create(options.data, shared),
    });
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems.join('\n'));
  const c = parsed.data;
  // keep the order the user gave: the first provider takes class-less Services by default
  providers.sort((a, b) => c.provider.indexOf(a.name) - c.provider.indexOf(b.name));
  const defaultProvider = c.classOnly || c.defaultProvider === '' ? undefined : (c.defaultProvider ?? c.provider[0]);
  return {
    ...c,
    defaultProvider,
    leaderElectIdentity: c.leaderElectIdentity ?? `${hostname()}_${process.pid}`,
    providers,
  };
}

/** A flag the user set for a provider that is not running would be silently ignored: refuse it. */
function flagsOfIdleProvider(
  provider: string,
  flags: readonly { flags: string; env?: string }[],
  source: ValueSource,
): string[] {
  const problems: string[] = [];
  for (const flag of flags) {
    const from = source(attributeName(flag));
    const name = `--${longName(flag)}`;
    const fix = `add --provider ${provider} or remove it`;
    if (from === 'cli') problems.push(`${name}: only the ${provider} provider reads it, and it is not running; ${fix}`);
    else if (from === 'env')
      problems.push(
        `${envName(flag)} (${name}): only the ${provider} provider reads it, and it is not running; ${fix}`,
      );
  }
  return problems;
}

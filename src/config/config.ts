/**
 * Flags + environment -> one validated Config. Every flag can also be set by an environment variable
 * (LBP_ + the flag name in upper snake case); a bad value is an error naming the flag, before anything
 * starts. A provider's flags are validated by its descriptor, and refused when that provider is not running.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import type { LoadBalancerProvider } from '../provider.ts';
import type { SharedProviderSettings } from '../provider-descriptor.ts';
import { PROVIDERS, PROVIDER_NAMES } from '../providers.ts';
import { durationFlag, parseDuration } from './duration.ts';
import { ConfigError } from './errors.ts';
import { attributeName, envName, longName } from './flag-spec.ts';

export { ConfigError } from './errors.ts';

/** Option values as commander hands them over (strings, booleans, string lists), keyed by attribute name. */
export type RawOptions = Record<string, unknown>;

/** Where a value came from: commander's option value source ('cli', 'env', 'default', ...). */
export type ValueSource = (attribute: string) => string | undefined;

const duration = (flag: string, min: number) => durationFlag(flag, min, ' (e.g. 10m, 15s, 500ms)');

const bindAddress = z
  .string()
  .refine((v) => /^(\[[0-9a-fA-F:]+\]|[0-9.]*|[a-zA-Z0-9.-]*):\d{1,5}$/.test(v) || v === '0', {
    message: '--metrics-bind-address: expected host:port (e.g. 127.0.0.1:8080), or 0 to disable',
  });

const providerList = z
  .array(z.string(), { message: '--provider: at least one provider is required' })
  .min(1, { message: `--provider: at least one provider is required (${PROVIDER_NAMES.join(', ')})` })
  .superRefine((names, ctx) => {
    for (const [i, name] of names.entries()) {
      if (!PROVIDER_NAMES.includes(name))
        ctx.addIssue({
          code: 'custom',
          message: `--provider: expected one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
        });
      else if (names.indexOf(name) !== i)
        ctx.addIssue({ code: 'custom', message: `--provider: ${name} is given twice` });
    }
  });

const core = z
  .object({
    kubeconfig: z.string().min(1, { message: '--kubeconfig: must not be empty' }).optional(),
    provider: providerList,
    defaultProvider: z.string().optional(),
    classOnly: z.boolean(),
    clusterName: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
      message: '--cluster-name: must be a DNS label (lowercase letters, digits, -), at most 63 characters',
    }),
    workers: z
      .string()
      .regex(/^\d+$/, { message: '--workers: must be a whole number' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 256, { message: '--workers: must be between 1 and 256' }),
    nodeSyncConcurrency: z
      .string()
      .regex(/^\d+$/, { message: '--node-sync-concurrency: must be a whole number' })
      .transform(Number)
      .refine((n) => n >= 1 && n <= 4096, { message: '--node-sync-concurrency: must be between 1 and 4096' }),
    resyncPeriod: z.string().transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `--resync-period: ${JSON.stringify(v)} is not a duration (e.g. 10m; 0 disables the drift pass)`,
        });
        return z.NEVER;
      }
      return ms;
    }),
    leaderElect: z.boolean(),
    leaderElectNamespace: z.string().min(1, { message: '--leader-elect-namespace: must not be empty' }),
    leaderElectName: z.string().min(1, { message: '--leader-elect-name: must not be empty' }),
    leaderElectIdentity: z.string().min(1, { message: '--leader-elect-identity: must not be empty' }).optional(),
    leaderElectLeaseDuration: duration('leader-elect-lease-duration', 1000),
    leaderElectRenewDeadline: duration('leader-elect-renew-deadline', 500),
    leaderElectRetryPeriod: duration('leader-elect-retry-period', 100),
    metricsBindAddress: bindAddress,
    apiserverTimeout: z.string().transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `--apiserver-timeout: ${JSON.stringify(v)} is not a duration (e.g. 60s; 0 waits forever)`,
        });
        return z.NEVER;
      }
      return ms;
    }),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      message: '--log-level: expected one of trace, debug, info, warn, error, fatal, silent',
    }),
    nodePortRange: z.string().transform((v, ctx) => {
      const m = /^(\d{1,5})-(\d{1,5})$/.exec(v.trim());
      const from = Number(m?.[1]);
      const to = Number(m?.[2]);
      if (!m || from < 1 || to > 65535 || from > to) {
        ctx.addIssue({
          code: 'custom',
          message: `--node-port-range: ${JSON.stringify(v)} is not a port range like 30000-32767`,
        });
        return z.NEVER;
      }
      return { from, to };
    }),
  })
  .superRefine((c, ctx) => {
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
  });

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

/**
 * Flags + environment -> one validated Config. Every flag can also be set by an environment variable
 * (LBP_ + the flag name in upper snake case); a bad value is an error naming the flag, before anything
 * starts.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseAzureFlags, type AzureFlags, type RawAzureFlags } from '../../providers/azure/flags.ts';

export const PROVIDER_NAMES = ['local', 'aws', 'azure', 'fake'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** The raw option values commander hands over (strings, booleans, string lists). */
export interface RawRunOptions extends RawAzureFlags {
  kubeconfig?: string;
  provider: string[];
  defaultProvider?: string;
  classOnly: boolean;
  clusterName: string;
  workers: string;
  resyncPeriod: string;
  leaderElect: boolean;
  leaderElectNamespace: string;
  leaderElectName: string;
  leaderElectIdentity?: string;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  metricsBindAddress: string;
  logLevel: string;
  pool: string[];
  dataplane: string;
  proxyBackend: string;
  vipInterface: string;
  awsRegion?: string;
  awsEndpoint?: string;
  awsAdopt: boolean;
  awsQuotaPrecheck: boolean;
  nodePortRange: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const duration = (flag: string, min: number) =>
  z.string().transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms < min) {
      ctx.addIssue({
        code: 'custom',
        message: `--${flag}: ${JSON.stringify(v)} is not a duration of at least ${min}ms (e.g. 10m, 15s, 500ms)`,
      });
      return z.NEVER;
    }
    return ms;
  });

const bindAddress = z
  .string()
  .refine((v) => /^(\[[0-9a-fA-F:]+\]|[0-9.]*|[a-zA-Z0-9.-]*):\d{1,5}$/.test(v) || v === '0', {
    message: '--metrics-bind-address: expected host:port (e.g. 127.0.0.1:8080), or 0 to disable',
  });

const schema = z
  .object({
    kubeconfig: z.string().min(1).optional(),
    provider: z
      .array(z.enum(PROVIDER_NAMES, { message: `--provider: expected one of ${PROVIDER_NAMES.join(', ')}` }))
      .min(1, { message: '--provider: at least one provider is required (local, aws, azure or fake)' }),
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
    leaderElectIdentity: z.string().min(1).optional(),
    leaderElectLeaseDuration: duration('leader-elect-lease-duration', 1000),
    leaderElectRenewDeadline: duration('leader-elect-renew-deadline', 500),
    leaderElectRetryPeriod: duration('leader-elect-retry-period', 100),
    metricsBindAddress: bindAddress,
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      message: '--log-level: expected one of trace, debug, info, warn, error, fatal, silent',
    }),
    pool: z.array(z.string()),
    dataplane: z.enum(['none', 'proxy'], { message: '--dataplane: expected none or proxy' }),
    proxyBackend: z.enum(['auto', 'nftables', 'userspace'], {
      message: '--proxy-backend: expected auto, nftables or userspace',
    }),
    vipInterface: z.string().regex(/^[a-zA-Z0-9._-]{1,15}$/, {
      message: '--vip-interface: expected an interface name (at most 15 characters)',
    }),
    awsRegion: z.string().min(1).optional(),
    awsEndpoint: z.url({ message: '--aws-endpoint: expected a URL (e.g. http://127.0.0.1:5000)' }).optional(),
    awsAdopt: z.boolean(),
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
    awsQuotaPrecheck: z.boolean(),
  })
  .superRefine((c, ctx) => {
    if (
      c.defaultProvider !== undefined &&
      c.defaultProvider !== '' &&
      !c.provider.includes(c.defaultProvider as ProviderName)
    ) {
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

export type Config = Omit<z.output<typeof schema>, 'defaultProvider' | 'leaderElectIdentity'> & {
  /** undefined: class-less Services are not ours */
  defaultProvider: ProviderName | undefined;
  leaderElectIdentity: string;
  /** the --azure-* flags, validated only when --provider azure runs (providers/azure/flags.ts) */
  azure?: AzureFlags;
};

export function parseRunConfig(raw: RawRunOptions): Config {
  const result = schema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => i.message).join('\n'));
  }
  const c = result.data;
  // the first provider takes class-less Services unless --class-only or an explicit empty --default-provider
  const defaultProvider =
    c.classOnly || c.defaultProvider === '' ? undefined : ((c.defaultProvider ?? c.provider[0]) as ProviderName);
  const azure = c.provider.includes('azure') ? parseAzureFlags(raw) : undefined;
  return {
    ...c,
    ...(azure ? { azure } : {}),
    defaultProvider,
    leaderElectIdentity: c.leaderElectIdentity ?? `${hostname()}_${process.pid}`,
  };
}

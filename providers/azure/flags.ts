/**
 * Every `--azure-*` flag in one place: its commander definition, its validation (zod), and the provider
 * options it becomes; the registry (src/providers.ts) makes the commander options and README rows from them.
 */
import * as z from '../../src/config/zod.ts';
import { durationFlag } from '../../src/config/duration.ts';

export interface RawAzureFlags {
  azureSubscriptionId?: string;
  azureResourceGroup?: string;
  azureLocation?: string;
  azureVnet?: string;
  azureSubnet?: string;
  azureNsg?: string;
  azureArmEndpoint?: string;
  azureAuthorityHost?: string;
  azurePollInterval?: string;
  azureRequestTimeout?: string;
}

const FLAGS: [keyof RawAzureFlags, string, string][] = [
  ['azureSubscriptionId', '--azure-subscription-id <id>', 'azure provider: subscription ID'],
  [
    'azureResourceGroup',
    '--azure-resource-group <name>',
    'azure provider: resource group of the load balancers, public IPs and NSG',
  ],
  ['azureLocation', '--azure-location <region>', 'azure provider: location of what it creates (e.g. westeurope)'],
  [
    'azureVnet',
    '--azure-vnet <name|id>',
    "azure provider: the nodes' virtual network (a name in the resource group, or a resource ID)",
  ],
  ['azureSubnet', '--azure-subnet <name>', 'azure provider: default subnet of internal frontends'],
  [
    'azureNsg',
    '--azure-nsg <name>',
    'azure provider: the network security group guarding the nodes (in the resource group)',
  ],
  ['azureArmEndpoint', '--azure-arm-endpoint <url>', 'azure provider: Resource Manager endpoint (sovereign clouds)'],
  ['azureAuthorityHost', '--azure-authority-host <url>', 'azure provider: Entra ID authority (sovereign clouds)'],
  [
    'azurePollInterval',
    '--azure-poll-interval <duration>',
    'azure provider: how often a long-running ARM operation is polled',
  ],
  [
    'azureRequestTimeout',
    '--azure-request-timeout <duration>',
    'azure provider: give up on an ARM request (read, write or poll) with no answer after this long',
  ],
];

const DOCUMENTED_DEFAULTS: Partial<Record<keyof RawAzureFlags, string>> = {
  azureSubscriptionId: 'AZURE_SUBSCRIPTION_ID',
  azureArmEndpoint: 'https://management.azure.com',
  azureAuthorityHost: 'AZURE_AUTHORITY_HOST, else the public cloud',
  azurePollInterval: '2s',
  azureRequestTimeout: '20s',
};

const required = (flag: string) =>
  z
    .string({ message: `--${flag}: required with --provider azure` })
    .check(z.minLength(1, { message: `--${flag}: must not be empty` }));
const https = (flag: string) =>
  z.url({ message: `--${flag}: expected an https URL` }).check(
    z.refine((u) => u.startsWith('https://'), {
      message: `--${flag}: expected an https URL (Azure refuses bearer tokens over plain HTTP)`,
    }),
  );

/** An optional duration flag with its default, refused below `minMs`. */
const duration = (flag: string, fallback: string, minMs: number) =>
  z.pipe(z._default(z.string(), fallback), durationFlag(flag, minMs));

export const azureFlagsSchema = z.object({
  azureSubscriptionId: z
    .string({ message: '--azure-subscription-id: required with --provider azure (or AZURE_SUBSCRIPTION_ID)' })
    .check(z.regex(/^[0-9a-fA-F-]{36}$/, { message: '--azure-subscription-id: expected a subscription ID (a GUID)' })),
  azureResourceGroup: required('azure-resource-group').check(
    z.regex(/^[-\w._()]{1,90}$/, { message: '--azure-resource-group: not a resource group name' }),
  ),
  azureLocation: required('azure-location').check(
    z.regex(/^[a-z0-9]+$/, { message: '--azure-location: expected a location name such as westeurope' }),
  ),
  azureVnet: required('azure-vnet'),
  azureSubnet: required('azure-subnet'),
  azureNsg: required('azure-nsg'),
  azureArmEndpoint: z.optional(https('azure-arm-endpoint')),
  azureAuthorityHost: z.optional(https('azure-authority-host')),
  azurePollInterval: duration('azure-poll-interval', '2s', 10),
  azureRequestTimeout: duration('azure-request-timeout', '20s', 100),
});

export type AzureFlags = z.output<typeof azureFlagsSchema>;

/** The flags as the provider registry declares them (commander syntax, one-line description, README default). */
export const AZURE_FLAG_SPECS: readonly { flags: string; description: string; documentedDefault?: string }[] =
  FLAGS.map(([key, flags, description]) => ({
    flags,
    description: description.replace(/^azure provider: /, ''),
    ...(DOCUMENTED_DEFAULTS[key] ? { documentedDefault: DOCUMENTED_DEFAULTS[key] } : {}),
  }));

/** The schema for the registry: the subscription may come from AZURE_SUBSCRIPTION_ID, as the SDKs read it. */
export const azureOptionsSchema = z.pipe(
  z.transform((raw: unknown) => ({
    ...(raw as object),
    azureSubscriptionId: (raw as RawAzureFlags).azureSubscriptionId ?? process.env['AZURE_SUBSCRIPTION_ID'],
  })),
  azureFlagsSchema,
);

/** Validate the flags (only when --provider azure runs); messages name the flag. */
export function parseAzureFlags(raw: RawAzureFlags, env: NodeJS.ProcessEnv = process.env): AzureFlags {
  const input = { ...raw, azureSubscriptionId: raw.azureSubscriptionId ?? env['AZURE_SUBSCRIPTION_ID'] };
  const result = azureFlagsSchema.safeParse(input);
  if (!result.success) {
    const err = new Error(result.error.issues.map((i) => i.message).join('\n'));
    err.name = 'ConfigError';
    throw err;
  }
  return result.data;
}

/**
 * A cluster's Azure side in the fake ARM: a resource group, the nodes' VNet and subnet (IPv4 and IPv6),
 * and their network security group; plus what a test needs to run the provider against it, in this
 * process (a static token, the harness CA trusted) or as a controller process (environment for
 * DefaultAzureCredential through the fake authority, NODE_EXTRA_CA_CERTS).
 */
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { AzureProvider, type AzureProviderOptions } from '../../providers/azure/provider.ts';
import { FakeArm, type FakeArmOptions } from './server.ts';

export const RG = 'rg-lbp';
export const VNET = 'vnet-nodes';
export const SUBNET = 'nodes';
export const NSG = 'nodes-nsg';
export const SUBNET_V4 = '10.240.0.0/16';
export const SUBNET_V6 = 'fd00:240::/64';
const STATIC_TOKEN = 'in-process-test-token';

export interface FakeArmWorld {
  fake: FakeArm;
  /** a provider in this process (static token), for provider-level tests */
  newProvider(cluster: string, overrides?: Partial<AzureProviderOptions>): AzureProvider;
  /** flags and environment for `lb-provisioner run --provider azure` against this fake */
  cliArgs(): string[];
  env(): Record<string, string>;
  stop(): Promise<void>;
}

/** A credential that hands out the fake's static token (in-process tests; the authority path is tested apart). */
export const staticCredential: TokenCredential = {
  getToken: async (): Promise<AccessToken> => ({ token: STATIC_TOKEN, expiresOnTimestamp: Date.now() + 3600_000 }),
};

export async function startFakeArmWorld(options: FakeArmOptions = {}): Promise<FakeArmWorld> {
  const fake = await new FakeArm({ staticToken: STATIC_TOKEN, resourceGroups: [RG, 'rg-ips'], ...options }).start();
  // this process trusts the fake's CA (a controller process gets NODE_EXTRA_CA_CERTS)
  setDefaultCACertificates([...getCACertificates('default'), fake.caPem]);
  const vnetId = fake.id(RG, 'virtualNetworks', VNET);
  fake.state.addSubnet(`${vnetId}/subnets/${SUBNET}`, SUBNET_V4, SUBNET_V6);
  fake.state.addSubnet(`${vnetId}/subnets/ilb`, '10.241.0.0/24');
  fake.state.put(fake.id(RG, 'networkSecurityGroups', NSG), 'Microsoft.Network/networkSecurityGroups', {
    location: fake.location,
    properties: { securityRules: [] },
  });
  return {
    fake,
    newProvider: (cluster, overrides = {}) =>
      new AzureProvider({
        clusterName: cluster,
        subscriptionId: fake.subscriptionId,
        resourceGroup: RG,
        location: fake.location,
        vnet: VNET,
        subnet: SUBNET,
        nsg: NSG,
        credential: staticCredential,
        armEndpoint: fake.endpoint,
        pollIntervalMs: 10,
        ...overrides,
      }),
    cliArgs: () => [
      '--azure-subscription-id',
      fake.subscriptionId,
      '--azure-resource-group',
      RG,
      '--azure-location',
      fake.location,
      '--azure-vnet',
      VNET,
      '--azure-subnet',
      SUBNET,
      '--azure-nsg',
      NSG,
      '--azure-arm-endpoint',
      fake.endpoint,
      '--azure-authority-host',
      fake.endpoint,
      // the fake's operations take milliseconds, not Azure's seconds
      '--azure-poll-interval',
      '20ms',
    ],
    env: () => ({
      NODE_EXTRA_CA_CERTS: fake.caFile,
      AZURE_TENANT_ID: options.tenantId ?? '00000000-0000-0000-0000-0000000000b2',
      AZURE_CLIENT_ID: options.clientId ?? '00000000-0000-0000-0000-0000000000c3',
      AZURE_CLIENT_SECRET: options.clientSecret ?? 'not-a-real-secret',
    }),
    stop: () => fake.stop(),
  };
}

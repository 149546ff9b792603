/**
 * Request and response bodies in the shape of ARM's published examples for Microsoft.Network (a
 * Standard load balancer with a public frontend, an internal one, a public IP, an NSG with a rule, a
 * backend pool written alone), in our own values and words: the spec's example files are not vendored
 * (see sdk-schema.ts). Each `response` lists what ARM answers beside what was sent; the fake must
 * accept every request and reproduce every response field.
 */
export const SUB = '00000000-0000-0000-0000-0000000000a1';
export const RG_FIX = 'rg-lbp';
const NET = `/subscriptions/${SUB}/resourceGroups/${RG_FIX}/providers/Microsoft.Network`;

export interface Fixture {
  title: string;
  path: string;
  request: Record<string, unknown>;
  /** fields the response must carry (a deep subset) */
  response: Record<string, unknown>;
  status: 200 | 201;
}

export const fixtures: Fixture[] = [
  {
    title: 'create a Standard public IP',
    path: `${NET}/publicIPAddresses/fixture-pip`,
    request: {
      location: 'westeurope',
      sku: { name: 'Standard', tier: 'Regional' },
      properties: {
        publicIPAllocationMethod: 'Static',
        publicIPAddressVersion: 'IPv4',
        dnsSettings: { domainNameLabel: 'fixture-web' },
      },
    },
    response: {
      name: 'fixture-pip',
      type: 'Microsoft.Network/publicIPAddresses',
      id: `${NET}/publicIPAddresses/fixture-pip`,
      properties: {
        publicIPAllocationMethod: 'Static',
        publicIPAddressVersion: 'IPv4',
        dnsSettings: { domainNameLabel: 'fixture-web', fqdn: 'fixture-web.westeurope.cloudapp.azure.com' },
      },
    },
    status: 201,
  },
  {
    title: 'create a Standard load balancer with a public frontend, a pool, a probe and a rule',
    path: `${NET}/loadBalancers/fixture-lb`,
    request: {
      location: 'westeurope',
      sku: { name: 'Standard', tier: 'Regional' },
      properties: {
        frontendIPConfigurations: [
          { name: 'fe-web', properties: { publicIPAddress: { id: `${NET}/publicIPAddresses/fixture-pip` } } },
        ],
        backendAddressPools: [
          {
            name: 'pool',
            properties: {
              loadBalancerBackendAddresses: [
                {
                  name: 'node-a',
                  properties: { ipAddress: '10.240.0.4', virtualNetwork: { id: `${NET}/virtualNetworks/vnet-nodes` } },
                },
              ],
            },
          },
        ],
        probes: [
          {
            name: 'healthz',
            properties: {
              protocol: 'Http',
              port: 10256,
              requestPath: '/healthz',
              intervalInSeconds: 5,
              numberOfProbes: 2,
            },
          },
        ],
        loadBalancingRules: [
          {
            name: 'web-80',
            properties: {
              frontendIPConfiguration: { id: `${NET}/loadBalancers/fixture-lb/frontendIPConfigurations/fe-web` },
              backendAddressPool: { id: `${NET}/loadBalancers/fixture-lb/backendAddressPools/pool` },
              probe: { id: `${NET}/loadBalancers/fixture-lb/probes/healthz` },
              protocol: 'Tcp',
              frontendPort: 80,
              backendPort: 30080,
              enableFloatingIP: false,
              idleTimeoutInMinutes: 4,
              enableTcpReset: true,
              loadDistribution: 'Default',
              disableOutboundSnat: true,
            },
          },
        ],
      },
    },
    response: {
      name: 'fixture-lb',
      type: 'Microsoft.Network/loadBalancers',
      properties: {
        provisioningState: 'Updating',
        frontendIPConfigurations: [
          {
            name: 'fe-web',
            id: `${NET}/loadBalancers/fixture-lb/frontendIPConfigurations/fe-web`,
            type: 'Microsoft.Network/loadBalancers/frontendIPConfigurations',
            properties: { loadBalancingRules: [{ id: `${NET}/loadBalancers/fixture-lb/loadBalancingRules/web-80` }] },
          },
        ],
        loadBalancingRules: [{ name: 'web-80', properties: { backendPort: 30080, provisioningState: 'Succeeded' } }],
      },
    },
    status: 201,
  },
  {
    title: 'create an internal load balancer with a dynamic private frontend',
    path: `${NET}/loadBalancers/fixture-ilb`,
    request: {
      location: 'westeurope',
      sku: { name: 'Standard' },
      properties: {
        frontendIPConfigurations: [
          {
            name: 'fe-private',
            properties: {
              subnet: { id: `${NET}/virtualNetworks/vnet-nodes/subnets/nodes` },
              privateIPAllocationMethod: 'Dynamic',
            },
          },
        ],
      },
    },
    response: {
      properties: {
        frontendIPConfigurations: [
          { name: 'fe-private', properties: { privateIPAllocationMethod: 'Dynamic', privateIPAddress: '10.240.0.4' } },
        ],
      },
    },
    status: 201,
  },
  {
    title: 'create a network security group with one rule',
    path: `${NET}/networkSecurityGroups/fixture-nsg`,
    request: {
      location: 'westeurope',
      properties: {
        securityRules: [
          {
            name: 'allow-web',
            properties: {
              protocol: 'Tcp',
              sourceAddressPrefix: 'Internet',
              sourcePortRange: '*',
              destinationAddressPrefix: '*',
              destinationPortRange: '30080',
              access: 'Allow',
              direction: 'Inbound',
              priority: 500,
            },
          },
        ],
      },
    },
    response: {
      type: 'Microsoft.Network/networkSecurityGroups',
      properties: {
        securityRules: [
          {
            name: 'allow-web',
            type: 'Microsoft.Network/networkSecurityGroups/securityRules',
            properties: { priority: 500 },
          },
        ],
      },
    },
    status: 201,
  },
];

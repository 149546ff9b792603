/**
 * The fake ARM itself: it accepts what ARM accepts (the example-shaped fixtures) and answers as ARM
 * does, refuses what ARM refuses (schema from the SDK's declarations, ARM's cross-reference checks),
 * and keeps ARM's write semantics (ETags, 412, long-running operations, 409 while one runs, tokens
 * from its authority). Raw HTTPS requests, so nothing of ours sits between the test and the fake, and
 * one test through the real ClientSecretCredential and SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NetworkManagementClient } from '@azure/arm-network';
import { ClientSecretCredential } from '@azure/identity';
import { SdkSchema } from './sdk-schema.ts';
import { fixtures, RG_FIX } from './fixtures.ts';
import { API_VERSION } from './server.ts';
import { startFakeArmWorld, type FakeArmWorld } from './world.ts';

const TOKEN = 'in-process-test-token';
// the raw JSON of a response: read field by field and checked by the assertions (a parse boundary)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Raw = Record<string, any>;

describe('fake ARM', () => {
  let world: FakeArmWorld;
  const base = () => world.fake.endpoint;
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base()}${path}?api-version=${API_VERSION}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: (text ? JSON.parse(text) : undefined) as Raw,
    };
  };
  const NET = () => `/subscriptions/${world.fake.subscriptionId}/resourceGroups/${RG_FIX}/providers/Microsoft.Network`;

  beforeAll(async () => {
    world = await startFakeArmWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('reads its schema from the SDK: required members, enums and wire nesting as the spec has them', () => {
    const schema = new SdkSchema();
    expect(schema.version).toBe('39.0.0');
    const rule = { name: 'r', properties: { frontendPort: 80 } };
    expect(schema.validate(rule, 'LoadBalancingRule').map((i) => i.message)).toEqual([
      'LoadBalancingRule.properties.protocol is required',
    ]);
    expect(schema.validate({ name: 'p', properties: { protocol: 'Icmp', port: 1 } }, 'Probe')[0]?.problem).toBe('enum');
    expect(
      schema.validate(
        { name: 'x', properties: { access: 'Allow', direction: 'Inbound', protocol: '*', priority: '500' } },
        'SecurityRule',
      )[0]?.message,
    ).toMatch(/priority: expected a number/);
    expect(schema.validate({ location: 'x', frontendIPConfigurations: [] }, 'LoadBalancer')[0]?.problem).toBe(
      'unknown',
    );
  });

  it('has example fixtures to check (the loop below would check nothing without them)', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  for (const f of fixtures) {
    it(`accepts and answers the example: ${f.title}`, async () => {
      const res = await call('PUT', f.path, f.request);
      expect(res.status).toBe(f.status);
      expect(res.json).toMatchObject(f.response);
      expect(res.headers.get('azure-asyncoperation')).toMatch(/\/operations\//);
      expect(res.json['etag']).toMatch(/^W\/"/);
    });
  }

  it('refuses what the schema refuses and what ARM checks beyond it, with ARM error codes', async () => {
    const lb = (props: Record<string, unknown>) => ({
      location: 'westeurope',
      sku: { name: 'Standard' },
      properties: props,
    });
    const fe = { name: 'fe', properties: { subnet: { id: `${NET()}/virtualNetworks/vnet-nodes/subnets/nodes` } } };
    const ruleTo = (frontend: string, port = 80, extra: Record<string, unknown> = {}) => ({
      name: `r${port}`,
      properties: {
        frontendIPConfiguration: { id: `${NET()}/loadBalancers/bad/frontendIPConfigurations/${frontend}` },
        protocol: 'Tcp',
        frontendPort: port,
        backendPort: 30000,
        ...extra,
      },
    });
    const cases: [unknown, string][] = [
      [
        lb({ loadBalancingRules: [{ name: 'r', properties: { frontendPort: 80 } }], frontendIPConfigurations: [fe] }),
        'InvalidRequestFormat',
      ],
      [lb({ frontendIPConfigurations: [fe], loadBalancingRules: [ruleTo('nope')] }), 'InvalidResourceReference'],
      [lb({ frontendIPConfigurations: [fe, fe] }), 'DuplicateResourceName'],
      [
        lb({ frontendIPConfigurations: [fe], loadBalancingRules: [ruleTo('fe'), { ...ruleTo('fe'), name: 'other' }] }),
        'LoadBalancingRuleFrontendPortConflict',
      ],
      [lb({ probes: [{ name: 'p', properties: { protocol: 'Http', port: 10256 } }] }), 'ProbeRequestPathRequired'],
      [
        lb({ probes: [{ name: 'p', properties: { protocol: 'Tcp', port: 10256, intervalInSeconds: 2 } }] }),
        'InvalidProbeInterval',
      ],
      [
        lb({ frontendIPConfigurations: [fe], loadBalancingRules: [ruleTo('fe', 80, { idleTimeoutInMinutes: 200 })] }),
        'InvalidIdleTimeout',
      ],
      [
        lb({
          frontendIPConfigurations: [
            { name: 'fe', properties: { publicIPAddress: { id: `${NET()}/publicIPAddresses/missing` } } },
          ],
        }),
        'InvalidResourceReference',
      ],
    ];
    for (const [body, code] of cases) {
      const res = await call('PUT', `${NET()}/loadBalancers/bad`, body);
      expect([res.status, res.json['error']?.code]).toEqual([400, code]);
    }
    const dynamicStandard = {
      location: 'westeurope',
      sku: { name: 'Standard' },
      properties: { publicIPAllocationMethod: 'Dynamic' },
    };
    expect((await call('PUT', `${NET()}/publicIPAddresses/bad`, dynamicStandard)).json['error'].code).toBe(
      'StandardSkuPublicIPAddressesMustBeStatic',
    );
    const clash = (priority: number, name: string) => ({
      name,
      properties: {
        protocol: 'Tcp',
        sourceAddressPrefix: '*',
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
        destinationPortRange: '1',
        access: 'Allow',
        direction: 'Inbound',
        priority,
      },
    });
    const nsg = { location: 'westeurope', properties: { securityRules: [clash(600, 'a'), clash(600, 'b')] } };
    expect((await call('PUT', `${NET()}/networkSecurityGroups/bad`, nsg)).json['error'].code).toBe(
      'SecurityRulesInvalidPriorityConflict',
    );
    expect(world.fake.state.get(`${NET()}/loadBalancers/bad`)).toBeUndefined();
  });

  it('issues a new ETag on every write, a child write renews the parent, and a stale If-Match gets 412', async () => {
    const path = fixtures[1]!.path;
    const first = await call('GET', path);
    const pool = { name: 'pool', properties: { loadBalancerBackendAddresses: [] } };
    const child = await call('PUT', `${path}/backendAddressPools/pool`, pool, { 'if-match': first.json['etag'] });
    expect(child.status).toBe(200);
    const after = await call('GET', path);
    expect(after.json['etag']).not.toBe(first.json['etag']);
    expect(child.json['etag']).toBe(after.json['etag']);
    const stale = await call('PUT', path, fixtures[1]!.request, { 'if-match': first.json['etag'] });
    expect([stale.status, stale.json['error'].code]).toEqual([412, 'PreconditionFailed']);
    const exists = await call('PUT', path, fixtures[1]!.request, { 'if-none-match': '*' });
    expect(exists.status).toBe(412);
    const recorded = world.fake.writes().filter((c) => c.path === path && c.status === 412);
    expect(recorded.map((c) => c.ifMatch ?? c.ifNoneMatch)).toEqual([first.json['etag'], '*']);
  });

  it('runs writes as long-running operations and answers 409 to a second write meanwhile', async () => {
    world.fake.latency.operationMs = 300;
    try {
      const path = `${NET()}/publicIPAddresses/lro-pip`;
      const body = {
        location: 'westeurope',
        sku: { name: 'Standard' },
        properties: { publicIPAllocationMethod: 'Static' },
      };
      const put = await call('PUT', path, body);
      const op = new URL(put.headers.get('azure-asyncoperation')!);
      const poll = async () =>
        (await fetch(op, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.json())) as {
          status: string;
        };
      expect((await poll()).status).toBe('InProgress');
      expect((await call('PUT', path, body)).json['error'].code).toBe('AnotherOperationInProgress');
      await new Promise((r) => setTimeout(r, 350));
      expect((await poll()).status).toBe('Succeeded');
      expect((await call('GET', path)).json['properties'].provisioningState).toBe('Succeeded');
      const del = await call('DELETE', path);
      expect(del.status).toBe(202);
      expect(del.headers.get('location')).toMatch(/operationResults/);
    } finally {
      world.fake.latency.operationMs = 0;
    }
  });

  it('serves a token through its authority to the real ClientSecretCredential, and ARM wants one', async () => {
    const unauthenticated = await fetch(`${base()}${NET()}/loadBalancers?api-version=${API_VERSION}`);
    expect(unauthenticated.status).toBe(401);
    await unauthenticated.arrayBuffer();
    const credential = new ClientSecretCredential(
      '00000000-0000-0000-0000-0000000000b2',
      '00000000-0000-0000-0000-0000000000c3',
      'not-a-real-secret',
      { authorityHost: base(), disableInstanceDiscovery: true },
    );
    const client = new NetworkManagementClient(credential, world.fake.subscriptionId, {
      endpoint: base(),
      credentials: { scopes: [`${base()}/.default`] },
    });
    const lb = await client.loadBalancers.get(RG_FIX, 'fixture-lb');
    expect(lb.frontendIPConfigurations?.[0]?.name).toBe('fe-web');
    expect(world.fake.authority.tokenRequests).toEqual([
      { clientId: '00000000-0000-0000-0000-0000000000c3', scope: `${base()}/.default` },
    ]);
    const wrong = new ClientSecretCredential(
      '00000000-0000-0000-0000-0000000000b2',
      '00000000-0000-0000-0000-0000000000c3',
      'wrong',
      {
        authorityHost: base(),
        disableInstanceDiscovery: true,
      },
    );
    await expect(wrong.getToken(`${base()}/.default`)).rejects.toThrow(/AADSTS7000215|invalid_client/);
  });
});

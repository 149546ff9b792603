/**
 * Generated bad input (issue 13): a table of named categories of bad Service and IPPool input, each a
 * fast-check generator, and generators of good Services (names at their length limits, port and protocol
 * mixes) to apply them to. A shrunk counterexample names its category, so a failure reads as "ips/two-of-one-family
 * on a Service named x…x (63)".
 *
 * Each Service category says which field the user is told about (the annotation key, `spec.ports`...), which
 * provider it is bad for, and whether the real apiserver stores it at all (many spec errors are refused
 * by its validation, so only the in-memory pipeline can meet them).
 */
import fc from 'fast-check';
import type * as k8s from '@kubernetes/client-node';
import {
  HEALTH_CHECK_HEALTHY_THRESHOLD,
  HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_PATH,
  HEALTH_CHECK_PORT,
  HEALTH_CHECK_PROTOCOL,
  HEALTH_CHECK_TIMEOUT,
  HEALTH_CHECK_UNHEALTHY_THRESHOLD,
  LOAD_BALANCER_SOURCE_RANGES,
} from '../../src/model/annotations.ts';
import { IPS_KEYS, POOL_KEYS, SHARING_KEYS } from '../../providers/local/annotations.ts';
import { FAIL_MODE, PROXY_PROTOCOL } from '../../providers/local/dataplane/service-options.ts';

/** The pools the Service categories are judged against (what "outside every pool" means). */
export const PROPERTY_POOLS = { v4: '192.0.2.0/26', v6: 'fd00:db8::/120' } as const;
/** An address outside both pools. */
export const OUTSIDE_POOLS = ['203.0.113.9', '198.51.100.77', '2001:db8:ffff::1', '10.255.0.1'] as const;

export type Provider = 'local' | 'fake';

export interface BadServiceInput {
  category: string;
  /** what the Warning Event and the False condition must name */
  field: string;
  /** the provider this is bad for */
  provider: Provider;
  /** whether the real apiserver stores such a Service (false: its validation refuses it) */
  apiserverStores: boolean;
  apply(svc: k8s.V1Service): void;
  /** for the shrunk counterexample's printout */
  describe: string;
}

export interface Category<T> {
  name: string;
  /** Service categories: whether the real apiserver stores such a Service */
  apiserverStores?: boolean;
  arbitrary: fc.Arbitrary<T>;
}

// ---- building blocks ------------------------------------------------------------------------------------

const HC_INT_KEYS = [
  HEALTH_CHECK_PORT,
  HEALTH_CHECK_INTERVAL,
  HEALTH_CHECK_TIMEOUT,
  HEALTH_CHECK_HEALTHY_THRESHOLD,
  HEALTH_CHECK_UNHEALTHY_THRESHOLD,
] as const;
/** keys read as one of a fixed set of words */
const WORD_KEYS = [HEALTH_CHECK_PROTOCOL, PROXY_PROTOCOL, FAIL_MODE] as const;
const WORDS_ACCEPTED: Record<string, readonly string[]> = {
  [HEALTH_CHECK_PROTOCOL]: ['http', 'https', 'tcp'],
  [PROXY_PROTOCOL]: ['v2', 'none'],
  [FAIL_MODE]: ['open', 'closed'],
};

const notAccepted = (key: string) => (s: string) => !WORDS_ACCEPTED[key]!.includes(s.trim().toLowerCase());

/** Unicode a user can paste: emoji, right-to-left text, combining marks, zero-width and full-width characters. */
export const unicodeText = fc.oneof(
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
  fc.constantFrom('🚀', 'ＨＴＴＰ', 'HTTP\u200b', 'طريق', 'ТСР', 'e\u0301', '\u202eptth', '８０', '１０.０.０.１'),
);
const controlText = fc.constantFrom('HTTP\u0000', 'tcp\nhttp', '\u0007', 'http\r\n\r\nX: y', '\t\u000b');
/** Huge values, within the 256 KiB the apiserver allows for all annotations (4 bytes a character at most). */
const hugeText = fc
  .integer({ min: 40_000, max: 120_000 })
  .chain((n) => fc.constantFrom('9', 'x', 'é', '🙂').map((c) => c.repeat(Math.ceil(n / c.length))));
const outOfRange = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: max + 1, max: max + 100_000 }),
    fc.integer({ min: 0, max: Math.max(0, min - 1) }).filter((n) => n < min),
  );

const dnsLabel = (min: number, max: number) =>
  fc
    .tuple(
      fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
      fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), minLength: min, maxLength: max }),
      fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
    )
    .map(([a, b, c]) => `${a}${b}${c}`);

/** A DNS-1035 label at or near the 63-character limit of Service names. */
export const serviceName = fc.oneof(dnsLabel(0, 10), dnsLabel(61, 61), dnsLabel(55, 61));
/** A DNS-1123 subdomain up to 253 characters (IPPool names, pool annotations). */
export const subdomainName = fc.oneof(
  dnsLabel(0, 20),
  fc.array(dnsLabel(61, 61), { minLength: 3, maxLength: 3 }).map((parts) => `${parts.join('.')}.${'a'.repeat(61)}`),
);

const v4Octet = fc.integer({ min: 0, max: 255 });
const v4 = fc.tuple(v4Octet, v4Octet, v4Octet, v4Octet).map((o) => o.join('.'));
const insidePoolV4 = fc.integer({ min: 1, max: 62 }).map((n) => `192.0.2.${n}`);
const insidePoolV6 = fc.integer({ min: 1, max: 254 }).map((n) => `fd00:db8::${n.toString(16)}`);

// ---- Service categories ---------------------------------------------------------------------------------

interface Spec {
  name: string;
  field: string | ((value: string, key: string) => string);
  provider?: Provider;
  apiserverStores?: boolean;
  /** the annotation keys the value goes to (one drawn); absent: `apply` is given */
  keys?: readonly string[];
  values?: fc.Arbitrary<string>;
  /** a spec mutation instead of an annotation */
  mutate?: fc.Arbitrary<{ describe: string; apply(svc: k8s.V1Service): void }>;
}

function annotationCategory(spec: Spec): Category<BadServiceInput> {
  const keys = spec.keys!;
  const arbitrary = fc.tuple(fc.constantFrom(...keys), spec.values!).map(([key, value]): BadServiceInput => ({
    category: spec.name,
    field: typeof spec.field === 'string' ? spec.field : spec.field(value, key),
    provider: spec.provider ?? 'local',
    apiserverStores: spec.apiserverStores ?? true,
    describe: `${key}=${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…(${value.length})` : value)}`,
    apply(svc) {
      svc.metadata!.annotations = { ...svc.metadata!.annotations, [key]: value };
    },
  }));
  return { name: spec.name, apiserverStores: spec.apiserverStores ?? true, arbitrary };
}

function specCategory(spec: Spec): Category<BadServiceInput> {
  const arbitrary = spec.mutate!.map((m): BadServiceInput => ({
    category: spec.name,
    field: spec.field as string,
    provider: spec.provider ?? 'local',
    apiserverStores: spec.apiserverStores ?? true,
    describe: m.describe,
    apply: m.apply,
  }));
  return { name: spec.name, apiserverStores: spec.apiserverStores ?? true, arbitrary };
}

const byKey = (_v: string, key: string) => key;
const setAnnotations = (a: Record<string, string>) => ({
  describe: JSON.stringify(a),
  apply(svc: k8s.V1Service) {
    svc.metadata!.annotations = { ...svc.metadata!.annotations, ...a };
  },
});
const withPorts = (describe: string, edit: (ports: k8s.V1ServicePort[], svc: k8s.V1Service) => void) => ({
  describe,
  apply(svc: k8s.V1Service) {
    edit(svc.spec!.ports!, svc);
  },
});

const healthCheckCategories: Category<BadServiceInput>[] = [
  annotationCategory({
    name: 'health-check-protocol/unknown-word',
    keys: [HEALTH_CHECK_PROTOCOL],
    field: HEALTH_CHECK_PROTOCOL,
    values: fc
      .oneof(fc.constantFrom('UDP', 'GRPC', 'SCTP', 'HTTP2', 'h2c', 'ICMP'), fc.string({ maxLength: 12 }))
      .filter(notAccepted(HEALTH_CHECK_PROTOCOL)),
  }),
  annotationCategory({
    name: 'health-check-port/zero',
    keys: [HEALTH_CHECK_PORT],
    field: HEALTH_CHECK_PORT,
    values: fc.constantFrom('0', '00', '0000'),
  }),
  annotationCategory({
    name: 'health-check-port/above-65535',
    keys: [HEALTH_CHECK_PORT],
    field: HEALTH_CHECK_PORT,
    values: fc.integer({ min: 65_536, max: 2 ** 31 }).map(String),
  }),
  annotationCategory({
    name: 'health-check-port/negative',
    keys: [HEALTH_CHECK_PORT],
    field: HEALTH_CHECK_PORT,
    values: fc.integer({ min: 1, max: 65_535 }).map((n) => `-${n}`),
  }),
  annotationCategory({
    name: 'health-check-port/word',
    keys: [HEALTH_CHECK_PORT],
    field: HEALTH_CHECK_PORT,
    values: fc
      .oneof(fc.constantFrom('traffic', 'trafficport', 'Traffic-Port', 'http', 'healthz'), fc.string({ maxLength: 10 }))
      .filter((s) => !/^\d+$/.test(s.trim()) && s.trim() !== 'traffic-port'),
  }),
  annotationCategory({
    name: 'health-check-port/decimal-hex-or-exponent',
    keys: [HEALTH_CHECK_PORT],
    field: HEALTH_CHECK_PORT,
    values: fc.constantFrom('80.5', '0x50', '1e3', '+80', '8_080', '80 80', '0b1010'),
  }),
  annotationCategory({
    name: 'int/beyond-safe-integer',
    keys: HC_INT_KEYS,
    field: byKey,
    values: fc.integer({ min: 17, max: 400 }).map((n) => '9'.repeat(n)),
  }),
  annotationCategory({
    name: 'int/unicode-digits',
    keys: HC_INT_KEYS,
    field: byKey,
    values: fc.constantFrom('٨٠', '８０', '५', '໕', '1٠'),
  }),
  annotationCategory({
    name: 'int/empty-or-blank',
    keys: HC_INT_KEYS,
    field: byKey,
    values: fc.constantFrom('', ' ', '\t', '  \n '),
  }),
  annotationCategory({
    name: 'health-check-path/no-leading-slash',
    keys: [HEALTH_CHECK_PATH],
    field: HEALTH_CHECK_PATH,
    values: fc
      .oneof(fc.constantFrom('healthz', 'http://x/healthz', '?a=b', '*'), fc.string({ minLength: 1, maxLength: 30 }))
      .filter((s) => s.trim() !== '' && !s.trim().startsWith('/')),
  }),
  annotationCategory({
    name: 'health-check-interval/out-of-range',
    keys: [HEALTH_CHECK_INTERVAL],
    field: HEALTH_CHECK_INTERVAL,
    values: outOfRange(1, 300).map(String),
  }),
  annotationCategory({
    name: 'health-check-timeout/out-of-range',
    keys: [HEALTH_CHECK_TIMEOUT],
    field: HEALTH_CHECK_TIMEOUT,
    values: outOfRange(1, 120).map(String),
  }),
  annotationCategory({
    name: 'health-check-healthy-threshold/out-of-range',
    keys: [HEALTH_CHECK_HEALTHY_THRESHOLD],
    field: HEALTH_CHECK_HEALTHY_THRESHOLD,
    values: outOfRange(1, 10).map(String),
  }),
  annotationCategory({
    name: 'health-check-unhealthy-threshold/out-of-range',
    keys: [HEALTH_CHECK_UNHEALTHY_THRESHOLD],
    field: HEALTH_CHECK_UNHEALTHY_THRESHOLD,
    values: outOfRange(1, 10).map(String),
  }),
  specCategory({
    name: 'health-check-timeout/longer-than-interval',
    field: HEALTH_CHECK_TIMEOUT,
    mutate: fc
      .integer({ min: 1, max: 119 })
      .chain((interval) =>
        fc
          .integer({ min: interval + 1, max: 120 })
          .map((timeout) =>
            setAnnotations({ [HEALTH_CHECK_INTERVAL]: String(interval), [HEALTH_CHECK_TIMEOUT]: String(timeout) }),
          ),
      ),
  }),
  annotationCategory({
    name: 'word/unicode',
    keys: WORD_KEYS,
    field: byKey,
    values: unicodeText.filter((s) => WORD_KEYS.every((k) => notAccepted(k)(s))),
  }),
  annotationCategory({
    name: 'word/control-characters',
    keys: WORD_KEYS,
    field: byKey,
    values: controlText,
  }),
  annotationCategory({
    name: 'annotation/huge-value',
    keys: [...HC_INT_KEYS, ...WORD_KEYS],
    field: byKey,
    values: hugeText,
  }),
];

const sourceRangeCategories: Category<BadServiceInput>[] = [
  ...(
    [
      ['v4-prefix-over-32', fc.tuple(v4, fc.integer({ min: 33, max: 999 })).map(([a, b]) => `${a}/${b}`)],
      ['v6-prefix-over-128', fc.integer({ min: 129, max: 999 }).map((b) => `2001:db8::/${b}`)],
      ['bare-address', v4],
      ['octet-over-255', fc.integer({ min: 256, max: 99_999 }).map((n) => `10.${n}.0.0/16`)],
      ['garbage', fc.constantFrom('everyone', '*', 'any', '0/0', '::/', '10.0.0.0/8;rm -rf', '10.0.0.0/-1')],
    ] as const
  ).map(([what, cidr]) =>
    annotationCategory({
      name: `source-ranges-annotation/${what}`,
      keys: [LOAD_BALANCER_SOURCE_RANGES],
      field: LOAD_BALANCER_SOURCE_RANGES,
      // the apiserver validates this annotation on LoadBalancer Services
      apiserverStores: false,
      values: fc.tuple(fc.constantFrom('', '192.0.2.0/24,', '10.0.0.0/8, '), cidr).map(([good, bad]) => good + bad),
    }),
  ),
  specCategory({
    name: 'source-ranges-spec/not-a-cidr',
    field: 'spec.loadBalancerSourceRanges',
    apiserverStores: false,
    mutate: fc.constantFrom('10.0.0.0/33', '10.0.0.1', 'everyone', '::/129').map((r) => ({
      describe: `spec.loadBalancerSourceRanges=[${r}]`,
      apply(svc: k8s.V1Service) {
        svc.spec!.loadBalancerSourceRanges = ['192.0.2.0/24', r];
      },
    })),
  }),
];

const ipsCategories: Category<BadServiceInput>[] = [
  ...(
    [
      ['octet-over-255', fc.integer({ min: 256, max: 999 }).map((n) => `192.0.2.${n}`)],
      ['three-part-v4', fc.constantFrom('192.0.2', '10.1', '192.0.2.')],
      ['leading-zeros', fc.constantFrom('192.000.002.001', '192.0.2.010', '0192.0.2.1')],
      ['v6-zone', fc.constantFrom('fe80::1%eth0', 'fd00:db8::1%1')],
      ['v6-too-many-groups', fc.constantFrom('fd00:db8:0:0:0:0:0:0:1', 'fd00:::1', 'fd00:db8::g')],
      ['cidr-instead-of-address', fc.constantFrom('192.0.2.0/26', 'fd00:db8::/120')],
      ['unicode-digits', fc.constantFrom('１９２.０.２.１', '192.0.2.١')],
      [
        'two-of-one-family',
        fc
          .tuple(insidePoolV4, insidePoolV4)
          .filter(([a, b]) => a !== b)
          .map(([a, b]) => `${a},${b}`),
      ],
      [
        'thousands-of-addresses',
        fc
          .integer({ min: 1_000, max: 5_000 })
          .map((n) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.1`).join(',')),
      ],
      ['outside-every-pool', fc.constantFrom(...OUTSIDE_POOLS)],
    ] as const
  ).map(([what, value]) =>
    annotationCategory({ name: `ips/${what}`, keys: IPS_KEYS, field: byKey, values: value as fc.Arbitrary<string> }),
  ),
  specCategory({
    name: 'ips/aliases-disagree',
    field: IPS_KEYS[0],
    mutate: fc
      .tuple(fc.constantFrom(...IPS_KEYS.slice(1)), insidePoolV4, insidePoolV4)
      .filter(([, a, b]) => a !== b)
      .map(([alias, a, b]) => setAnnotations({ [IPS_KEYS[0]]: a, [alias]: b })),
  }),
  specCategory({
    name: 'ips/wrong-family-for-the-service',
    field: IPS_KEYS[0],
    mutate: insidePoolV6.map((ip) => setAnnotations({ [IPS_KEYS[0]]: ip })),
  }),
  specCategory({
    name: 'loadBalancerIP/disagrees-with-annotation',
    field: 'spec.loadBalancerIP',
    mutate: fc
      .tuple(insidePoolV4, insidePoolV4)
      .filter(([a, b]) => a !== b)
      .map(([a, b]) => ({
        describe: `spec.loadBalancerIP=${a}, ${IPS_KEYS[0]}=${b}`,
        apply(svc: k8s.V1Service) {
          svc.spec!.loadBalancerIP = a;
          svc.metadata!.annotations = { ...svc.metadata!.annotations, [IPS_KEYS[0]]: b };
        },
      })),
  }),
  specCategory({
    name: 'loadBalancerIP/outside-every-pool',
    field: 'spec.loadBalancerIP',
    mutate: fc.constantFrom('203.0.113.9', '198.51.100.77', '10.255.0.1').map((ip) => ({
      describe: `spec.loadBalancerIP=${ip}`,
      apply(svc: k8s.V1Service) {
        svc.spec!.loadBalancerIP = ip;
      },
    })),
  }),
  annotationCategory({
    name: 'pool/unknown-name',
    keys: POOL_KEYS,
    field: byKey,
    values: subdomainName.filter((n) => !n.startsWith('flag-')),
  }),
  specCategory({
    name: 'pool/aliases-disagree',
    field: POOL_KEYS[0],
    mutate: fc
      .tuple(fc.constantFrom(...POOL_KEYS.slice(1)), subdomainName, subdomainName)
      .filter(([, a, b]) => a !== b)
      .map(([alias, a, b]) => setAnnotations({ [POOL_KEYS[0]]: a, [alias]: b })),
  }),
  specCategory({
    name: 'sharing-key/aliases-disagree',
    field: SHARING_KEYS[0],
    mutate: fc
      .tuple(fc.constantFrom(...SHARING_KEYS.slice(1)), dnsLabel(0, 20), dnsLabel(0, 20))
      .filter(([, a, b]) => a !== b)
      .map(([alias, a, b]) => setAnnotations({ [SHARING_KEYS[0]]: a, [alias]: b })),
  }),
  annotationCategory({
    name: 'proxy-protocol/unknown-word',
    keys: [PROXY_PROTOCOL],
    field: PROXY_PROTOCOL,
    values: fc
      .oneof(fc.constantFrom('v1', 'true', 'yes', '2', 'PROXY'), fc.string({ maxLength: 8 }))
      .filter(notAccepted(PROXY_PROTOCOL)),
  }),
  annotationCategory({
    name: 'no-healthy-targets/unknown-word',
    keys: [FAIL_MODE],
    field: FAIL_MODE,
    values: fc
      .oneof(fc.constantFrom('fail-open', 'drop', 'true', 'opened'), fc.string({ maxLength: 8 }))
      .filter(notAccepted(FAIL_MODE)),
  }),
];

const portIndex = (ports: k8s.V1ServicePort[], n: number) => n % ports.length;

const portCategories: Category<BadServiceInput>[] = [
  specCategory({
    name: 'ports/none',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc.constant(withPorts('no ports', (_p, svc) => (svc.spec!.ports = []))),
  }),
  specCategory({
    name: 'ports/port-zero-or-negative',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc.tuple(fc.nat(), fc.integer({ min: -70_000, max: 0 })).map(([i, port]) =>
      withPorts(`port ${port}`, (ports) => {
        ports[portIndex(ports, i)]!.port = port;
      }),
    ),
  }),
  specCategory({
    name: 'ports/port-above-65535',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc.tuple(fc.nat(), fc.integer({ min: 65_536, max: 2 ** 31 })).map(([i, port]) =>
      withPorts(`port ${port}`, (ports) => {
        ports[portIndex(ports, i)]!.port = port;
      }),
    ),
  }),
  specCategory({
    name: 'ports/duplicate-port-and-protocol',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc.nat().map((i) =>
      withPorts('a port twice', (ports) => {
        const p = ports[portIndex(ports, i)]!;
        ports.push({ ...p, name: `${p.name ?? 'p'}-again`, nodePort: (p.nodePort ?? 30000) + 1 });
      }),
    ),
  }),
  specCategory({
    name: 'ports/unknown-protocol',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc
      .tuple(fc.nat(), fc.oneof(fc.constantFrom('tcp', 'udp', 'HTTP', 'ICMP', 'QUIC', ''), unicodeText))
      .filter(([, p]) => !['TCP', 'UDP', 'SCTP'].includes(p))
      .map(([i, protocol]) =>
        withPorts(`protocol ${JSON.stringify(protocol)}`, (ports) => {
          ports[portIndex(ports, i)]!.protocol = protocol;
        }),
      ),
  }),
  specCategory({
    name: 'ports/node-port-out-of-range',
    field: 'spec.ports',
    apiserverStores: false,
    mutate: fc
      .tuple(fc.nat(), fc.oneof(fc.integer({ min: -100, max: -1 }), fc.integer({ min: 65_536, max: 1_000_000 })))
      .map(([i, nodePort]) =>
        withPorts(`nodePort ${nodePort}`, (ports) => {
          ports[portIndex(ports, i)]!.nodePort = nodePort;
        }),
      ),
  }),
  specCategory({
    name: 'ports/no-node-port',
    field: 'spec.ports',
    mutate: fc.nat().map((i) =>
      withPorts('allocateLoadBalancerNodePorts false, a port without nodePort', (ports, svc) => {
        svc.spec!.allocateLoadBalancerNodePorts = false;
        delete ports[portIndex(ports, i)]!.nodePort;
      }),
    ),
  }),
  specCategory({
    name: 'ports/many-ports-one-without-node-port',
    field: 'spec.ports',
    mutate: fc.tuple(fc.integer({ min: 100, max: 400 }), fc.nat()).map(([n, i]) =>
      withPorts(`${n} ports, one without nodePort`, (ports, svc) => {
        svc.spec!.allocateLoadBalancerNodePorts = false;
        const more = Array.from({ length: n }, (_, k) => ({
          name: `m${k}`,
          port: 10_000 + k,
          protocol: k % 2 === 0 ? 'TCP' : 'UDP',
          nodePort: 30_000 + ((k * 7) % 2_700),
          targetPort: 10_000 + k,
        }));
        ports.push(...more);
        delete ports[i % ports.length]!.nodePort;
      }),
    ),
  }),
  specCategory({
    name: 'ports/sctp-where-unsupported',
    field: 'SCTP',
    provider: 'fake',
    mutate: fc.nat().map((i) =>
      withPorts('an SCTP port', (ports) => {
        ports[portIndex(ports, i)]!.protocol = 'SCTP';
      }),
    ),
  }),
];

/** Every named category of bad Service input. */
export const SERVICE_CATEGORIES: readonly Category<BadServiceInput>[] = [
  ...healthCheckCategories,
  ...sourceRangeCategories,
  ...ipsCategories,
  ...portCategories,
];

export const badServiceInput = (filter: (c: Category<BadServiceInput>) => boolean = () => true) =>
  fc.oneof(...SERVICE_CATEGORIES.filter(filter).map((c) => c.arbitrary));

// ---- good Services --------------------------------------------------------------------------------------

export interface GoodService {
  name: string;
  ports: { port: number; protocol: 'TCP' | 'UDP' }[];
}

/** A good LoadBalancer Service: a name at or near its length limit, 1-4 distinct ports of TCP and UDP. */
export const goodService: fc.Arbitrary<GoodService> = fc.record({
  name: serviceName,
  ports: fc.uniqueArray(
    fc.record({
      port: fc.oneof(fc.constantFrom(1, 80, 443, 65_535), fc.integer({ min: 1, max: 65_535 })),
      protocol: fc.constantFrom('TCP' as const, 'UDP' as const),
    }),
    { minLength: 1, maxLength: 4, selector: (p) => `${p.port}/${p.protocol}` },
  ),
});

// ---- IPPool categories ----------------------------------------------------------------------------------

export interface BadPoolInput {
  category: string;
  /** the field the error must name (a prefix of InvalidPoolError.field) */
  field: string;
  object: unknown;
}

const poolObject = (name: string, spec: unknown): unknown => ({
  apiVersion: 'lbprovisioner.io/v1alpha1',
  kind: 'IPPool',
  metadata: { name },
  spec,
});

function poolCategory(
  name: string,
  field: string,
  spec: fc.Arbitrary<unknown>,
  objectName: fc.Arbitrary<string> = subdomainName,
): Category<BadPoolInput> {
  return {
    name,
    arbitrary: fc.tuple(objectName, spec).map(([n, s]) => ({ category: name, field, object: poolObject(n, s) })),
  };
}

const badAddress = (value: fc.Arbitrary<unknown>) =>
  fc.tuple(fc.constantFrom([], ['192.0.2.0/28']), value).map(([good, bad]) => ({ addresses: [...good, bad] }));
const selectorSpec = (selector: unknown) => ({
  addresses: ['192.0.2.0/28'],
  serviceAllocation: { namespaceSelectors: [selector] },
});

export const POOL_CATEGORIES: readonly Category<BadPoolInput>[] = [
  poolCategory('ippool/no-addresses', 'spec.addresses', fc.constant({ addresses: [] })),
  poolCategory('ippool/addresses-missing', 'spec.addresses', fc.constant({ autoAssign: true })),
  poolCategory(
    'ippool/addresses-not-a-list',
    'spec.addresses',
    fc.constantFrom({ addresses: '192.0.2.0/28' }, { addresses: { a: 1 } }),
  ),
  poolCategory(
    'ippool/address-not-a-string',
    'spec.addresses',
    badAddress(fc.constantFrom(3232235520, null, true, {})),
  ),
  poolCategory('ippool/address-garbage', 'spec.addresses', badAddress(fc.constantFrom('pool', '', '*', '192.0.2.x'))),
  poolCategory(
    'ippool/cidr-prefix-too-long',
    'spec.addresses',
    badAddress(fc.constantFrom('192.0.2.0/33', 'fd00::/129', '10.0.0.0/1000')),
  ),
  poolCategory(
    'ippool/range-reversed',
    'spec.addresses',
    badAddress(fc.constantFrom('192.0.2.20-192.0.2.10', 'fd00::9-fd00::1')),
  ),
  poolCategory(
    'ippool/range-mixed-families',
    'spec.addresses',
    badAddress(fc.constantFrom('192.0.2.1-fd00::1', 'fd00::1-192.0.2.9')),
  ),
  poolCategory(
    'ippool/range-three-ends',
    'spec.addresses',
    badAddress(fc.constantFrom('192.0.2.1-192.0.2.2-192.0.2.3')),
  ),
  poolCategory('ippool/unicode-address', 'spec.addresses', badAddress(unicodeText)),
  poolCategory('ippool/huge-address', 'spec.addresses', badAddress(hugeText)),
  poolCategory(
    'ippool/autoAssign-not-boolean',
    'spec.autoAssign',
    fc.constantFrom('true', 1, 'yes').map((v) => ({ addresses: ['192.0.2.0/28'], autoAssign: v })),
  ),
  poolCategory(
    'ippool/priority-fraction',
    'spec.priority',
    fc
      .double({ min: 0.1, max: 1e6, noNaN: true })
      .filter((d) => !Number.isInteger(d))
      .map((p) => ({ addresses: ['192.0.2.0/28'], priority: p })),
  ),
  poolCategory(
    'ippool/priority-not-a-number',
    'spec.priority',
    fc.constantFrom('1', 'high', null).map((p) => ({ addresses: ['192.0.2.0/28'], priority: p })),
  ),
  poolCategory(
    'ippool/selector-in-without-values',
    'spec.serviceAllocation',
    fc.constantFrom('In', 'NotIn').map((operator) => selectorSpec({ matchExpressions: [{ key: 'team', operator }] })),
  ),
  poolCategory(
    'ippool/selector-exists-with-values',
    'spec.serviceAllocation',
    fc
      .constantFrom('Exists', 'DoesNotExist')
      .map((operator) => selectorSpec({ matchExpressions: [{ key: 'team', operator, values: ['a'] }] })),
  ),
  poolCategory(
    'ippool/selector-unknown-operator',
    'spec.serviceAllocation',
    fc
      .constantFrom('in', 'Equals', 'Gt', '')
      .map((operator) => selectorSpec({ matchExpressions: [{ key: 'team', operator, values: ['a'] }] })),
  ),
  poolCategory(
    'ippool/selector-match-labels-not-strings',
    'spec.serviceAllocation',
    fc.constantFrom(1, true, null).map((v) => selectorSpec({ matchLabels: { team: v } })),
  ),
  poolCategory(
    'ippool/namespaces-not-a-list',
    'spec.serviceAllocation',
    fc.constantFrom('default', 7).map((v) => ({ addresses: ['192.0.2.0/28'], serviceAllocation: { namespaces: v } })),
  ),
  poolCategory('ippool/spec-missing', 'spec', fc.constantFrom(undefined, null, 'spec', [])),
];

export const badPoolInput = fc.oneof(...POOL_CATEGORIES.map((c) => c.arbitrary));

/** Every category name, Service and pool, for the report and the reachability test. */
export const ALL_CATEGORY_NAMES: readonly string[] = [
  ...SERVICE_CATEGORIES.map((c) => c.name),
  ...POOL_CATEGORIES.map((c) => c.name),
];

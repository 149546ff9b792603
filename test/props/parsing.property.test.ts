/**
 * Generated input through the model and every parser (issue 13): whatever a Service or an IPPool holds, the
 * parsing layer throws nothing but the project's typed errors (InvalidSpec, InvalidAnnotation...), and a
 * pool parse never throws at all (it returns an InvalidPoolError naming the field). Every annotation of the
 * code's annotation tables (the README's table is made from them) gets generated values.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { annotationTables } from '../../src/docs/annotation-table.ts';
import { desiredLoadBalancer } from '../../src/model/desired-load-balancer.ts';
import { isProviderError } from '../../src/model/errors.ts';
import type { HealthCheckRules } from '../../src/model/health-check.ts';
import type { ServiceObject } from '../../src/model/objects.ts';
import { allocationRequest } from '../../providers/local/annotations.ts';
import { serviceOptions } from '../../providers/local/dataplane/service-options.ts';
import { poolFromObject, poolsFromFlags } from '../../providers/local/pool.ts';
import { parseAddressRange } from '../../providers/local/ipam/range.ts';
import { AWS_HEALTH_CHECK, awsOptions } from '../../providers/aws/options.ts';
import { AZURE_HEALTH_CHECK } from '../../providers/azure/annotations.ts';
import { azureOptions } from '../../providers/azure/options.ts';
import { aNode } from '../builders/service.ts';
import {
  ALL_CATEGORY_NAMES,
  POOL_CATEGORIES,
  SERVICE_CATEGORIES,
  badPoolInput,
  badServiceInput,
  goodService,
  unicodeText,
} from './bad-input.ts';
import { serviceFor } from './pipeline-world.ts';

const RUNS = 400;
const seed = Number(process.env.PROPS_SEED ?? 1313);

/** Every annotation key of every table; `port_{port}_...` templates get a port of the Service. */
const annotationKeys = annotationTables.flatMap((t) => t.rows.map((r) => r.key));
const concreteKey = (key: string, port: number) => key.replace('{port}', String(port)).replace('*', 'ipv4');

/** Any value a user could write: typical words and numbers, Unicode, control characters, huge values. */
const anyValue = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    'true',
    'false',
    'TRUE',
    '0',
    '1',
    '-1',
    '65536',
    'traffic-port',
    '/healthz',
    'Http',
    'a=b,c',
    '*',
  ),
  fc.string({ maxLength: 40 }),
  unicodeText,
  fc.integer().map(String),
  fc.double().map(String),
  fc
    .array(
      fc.constantFrom(
        '203.0.113.0/24',
        '10/8',
        'fd00::1',
        '192.0.2.1',
        'x=y',
        'ELBSecurityPolicy-TLS13-1-2-2021-06',
        '80',
      ),
      { maxLength: 6 },
    )
    .map((a) => a.join(',')),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'é9,'.repeat(n)),
);

const anyAnnotations = (ports: number[]) =>
  fc
    .array(fc.tuple(fc.constantFrom(...annotationKeys), anyValue, fc.constantFrom(...ports)), { maxLength: 6 })
    .map((entries) => Object.fromEntries(entries.map(([k, v, p]) => [concreteKey(k, p), v])));

const RULES: Record<string, HealthCheckRules> = {
  generic: { defaults: { intervalSeconds: 5, timeoutSeconds: 2, healthyThreshold: 2, unhealthyThreshold: 3 } },
  aws: AWS_HEALTH_CHECK,
  azure: AZURE_HEALTH_CHECK,
};
const nodes = [aNode('n1', { ip: '10.0.0.1', providerID: 'aws:///us-east-1a/i-1' })];

/** Runs fn; a throw must be one of our typed errors. Returns what was thrown, for the checks that follow. */
function onlyTypedErrors(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!isProviderError(err)) throw new Error(`threw an untyped error: ${String(err)}`, { cause: err });
    return err;
  }
}

/** The whole parsing layer a Service meets, for every provider. */
function parseEverything(svc: ServiceObject): void {
  for (const [provider, healthCheck] of Object.entries(RULES)) {
    for (const needsNodePorts of [true, false]) {
      onlyTypedErrors(() => {
        const lb = desiredLoadBalancer(svc, nodes, {
          clusterName: 'props',
          requireProviderID: provider === 'aws',
          needsNodePorts,
          healthCheck,
        });
        // the model accepted it: every provider's own options parse on top of it
        onlyTypedErrors(() => allocationRequest(lb));
        onlyTypedErrors(() => serviceOptions(lb));
        onlyTypedErrors(() => awsOptions(lb));
        onlyTypedErrors(() => azureOptions(lb));
      });
    }
  }
}

describe('the parsing layer meets generated input', () => {
  it('throws only typed errors for any values of every annotation in the annotation tables', () => {
    expect(annotationKeys.length).toBeGreaterThan(50);
    fc.assert(
      fc.property(
        goodService.chain((good) => fc.tuple(fc.constant(good), anyAnnotations(good.ports.map((p) => p.port)))),
        ([good, annotations]) => {
          const svc = serviceFor(good.name, 'props', 'local', good.ports);
          svc.metadata!.annotations = annotations;
          parseEverything(svc);
        },
      ),
      { numRuns: RUNS, seed },
    );
  });

  it('throws only typed errors for every category of bad Service input, in every provider parser', () => {
    fc.assert(
      fc.property(goodService, badServiceInput(), (good, bad) => {
        const svc = serviceFor(good.name, 'props', bad.provider, good.ports);
        bad.apply(svc);
        parseEverything(svc);
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('parses any IPPool object to a pool or an InvalidPoolError naming the field, never a throw', () => {
    fc.assert(
      fc.property(badPoolInput, (bad) => {
        const parsed = poolFromObject(bad.object);
        expect(parsed.ok).toBe(false);
        if (parsed.ok) return;
        expect(parsed.error.name).toBe('InvalidPoolError');
        expect(parsed.error.field.startsWith(bad.field)).toBe(true);
        expect(parsed.error.message.length).toBeLessThan(1_000);
      }),
      { numRuns: RUNS, seed },
    );
    fc.assert(
      fc.property(fc.anything(), (object) => {
        expect(() => poolFromObject(object)).not.toThrow();
      }),
      { numRuns: RUNS, seed },
    );
  });

  it('never throws on any address text (ranges, CIDRs, --pool flags)', () => {
    const text = fc.oneof(
      fc.string(),
      unicodeText,
      fc.ipV4(),
      fc.ipV6(),
      fc.ipV4Extended(),
      fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: -5, max: 300 })).map(([a, b]) => `${a}/${b}`),
    );
    fc.assert(
      fc.property(fc.array(text, { maxLength: 4 }), (values) => {
        for (const v of values) expect(() => parseAddressRange(v)).not.toThrow();
        expect(() => poolsFromFlags(values)).not.toThrow();
      }),
      { numRuns: RUNS, seed },
    );
  });
});

describe('the bad-input generators', () => {
  it('cover at least 50 named categories, each reachable from the generators the properties draw from', () => {
    expect(new Set(ALL_CATEGORY_NAMES).size).toBe(ALL_CATEGORY_NAMES.length);
    expect(ALL_CATEGORY_NAMES.length).toBeGreaterThanOrEqual(50);
    const drawn = new Set([
      ...fc.sample(badServiceInput(), { numRuns: 6_000, seed }).map((b) => b.category),
      ...fc.sample(badPoolInput, { numRuns: 2_000, seed }).map((b) => b.category),
    ]);
    expect(ALL_CATEGORY_NAMES.filter((name) => !drawn.has(name))).toEqual([]);
    expect(SERVICE_CATEGORIES.length + POOL_CATEGORIES.length).toBe(ALL_CATEGORY_NAMES.length);
  });
});

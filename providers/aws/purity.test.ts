/**
 * The AWS provider's layering, checked on its sources: the planning half is pure (it imports nothing that
 * does I/O: no SDK client, no other file of the provider that calls AWS, only types of the SDK's data
 * shapes and the pure model), and shipped files import neither jest nor test support. Every source file is
 * classified, so a new one has to say which half it belongs to.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/** desired state and observations in, values out */
const PURE = [
  'annotations.ts',
  'attributes.ts',
  'certificates.ts',
  'chunks.ts',
  'error-codes.ts',
  'names.ts',
  'observed.ts',
  'options.ts',
  'placement.ts',
  'plan-delete.ts',
  'plan-ensure.ts',
  'plan-listeners.ts',
  'plan-security.ts',
  'plan-tags.ts',
  'plan.ts',
  'quotas.ts',
  'status.ts',
  'steps.ts',
  'tags.ts',
];

/** reads, writes, clocks, the provider's wiring */
const IO = [
  'apply-deletes.ts',
  'apply.ts',
  'aws-api.ts',
  'context.ts',
  'discovery.ts',
  'doctor.ts',
  'index.ts',
  'lb-index.ts',
  'observe-delete.ts',
  'observe.ts',
  'provider-options.ts',
  'provider.ts',
  'provisioning-poll.ts',
  'reads.ts',
  'target-health.ts',
  'throttle.ts',
];

interface Import {
  from: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(HERE, file), 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?(?:[^;]*?\s+from\s+)?'([^']+)';/gms))
    out.push({ from: m[2]!, typeOnly: m[1] !== undefined });
  return out;
}

/** Why a pure file may not import this, or undefined when it may. */
function impurity(i: Import): string | undefined {
  if (i.from.startsWith('./')) return PURE.includes(i.from.slice(2)) ? undefined : 'a file that does I/O';
  if (i.from.startsWith('../../src/model/')) return undefined;
  if (i.from === 'node:crypto') return undefined;
  if (i.from === '../../src/provider.ts' || i.from.startsWith('@aws-sdk/'))
    return i.typeOnly ? undefined : 'values (types only: the contract, the SDK data shapes)';
  return 'a module outside the pure set';
}

describe('AWS provider layering', () => {
  const sources = readdirSync(HERE).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

  it('classifies every source file as pure or I/O', () => {
    expect([...sources].sort()).toEqual([...PURE, ...IO].sort());
  });

  it('pure files import nothing that does I/O', () => {
    const found = PURE.flatMap((f) => importsOf(f).map((i) => ({ file: f, ...i, why: impurity(i) })));
    expect(found.length).toBeGreaterThan(PURE.length); // the parser sees the imports
    expect(found.filter((i) => i.why !== undefined)).toEqual([]);
  });

  it('shipped files import neither jest nor test support', () => {
    const bad = sources.flatMap((f) =>
      importsOf(f)
        .filter((i) => i.from.startsWith('@jest/') || i.from === 'jest' || /(^|\/)test\//.test(i.from))
        .map((i) => `${f}: ${i.from}`),
    );
    expect(bad).toEqual([]);
  });

  it('the checker catches what it is for', () => {
    expect(impurity({ from: './aws-api.ts', typeOnly: true })).toBeDefined();
    expect(impurity({ from: '@aws-sdk/client-ec2', typeOnly: false })).toBeDefined();
    expect(impurity({ from: 'pino', typeOnly: true })).toBeDefined();
    expect(impurity({ from: '@aws-sdk/client-ec2', typeOnly: true })).toBeUndefined();
  });
});

import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Metrics } from '../metrics.ts';

const root = (rel: string) => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
const readme = readFileSync(root('README.md'), 'utf8');
const section = (title: string) => {
  const start = readme.indexOf(`\n### ${title}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n##', start + title.length + 6);
  return readme.slice(start, end);
};

describe('README, Deploying', () => {
  it('the Metrics section lists every metric the controller registers', async () => {
    const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(5);
    const metrics = section('Metrics');
    for (const name of names) expect(metrics).toContain(`| \`${name}\` |`);
  });

  it('every deploy/ path and `apply -k` target it names exists', () => {
    const paths = [...readme.matchAll(/\bdeploy\/[\w./{},-]*/g)].map((m) => m[0].replace(/[.,]+$/, ''));
    expect(paths.length).toBeGreaterThan(10);
    const expanded = paths.flatMap((p) => {
      const brace = /\{([^}]+)\}/.exec(p);
      return brace ? brace[1]!.split(',').map((x) => p.replace(brace[0], x)) : [p];
    });
    for (const p of expanded.filter((p) => !p.includes('<'))) expect([p, existsSync(root(p))]).toEqual([p, true]);
  });

  it('has an Install for each provider, an Upgrade and an Uninstall', () => {
    const install = section('Install');
    for (const overlay of ['local', 'kind', 'aws', 'azure'])
      expect(install).toContain(`kubectl apply -k deploy/overlays/${overlay}`);
    expect(section('Upgrade')).toContain('kubectl apply -k deploy/crds');
    expect(section('Uninstall')).toContain('$deleteFromPrimitiveList/finalizers');
  });
});

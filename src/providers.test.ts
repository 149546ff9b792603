/** The provider registry: one list, descriptors that stay light, heavy code loaded only for a running provider. */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PROVIDERS } from './providers.ts';
import { attributeName } from './config/flag-spec.ts';

const REGISTRY = fileURLToPath(new URL('./providers.ts', import.meta.url));

/** Creates one provider in a fresh Node process and lists the AWS SDK modules that were loaded. */
function sdkModulesLoadedCreating(name: string): string[] {
  const script = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ resolve(specifier, context, next) {
      const r = next(specifier, context);
      if (r.url.includes('@aws-sdk')) loaded.push(r.url);
      return r;
    } });
    const { providerNamed } = await import(${JSON.stringify(REGISTRY)});
    const { pino } = await import('pino');
    const d = providerNamed(${JSON.stringify(name)});
    const options = d.options.parse({ pool: [], dataplane: 'none', proxyBackend: 'auto', vipInterface: 'lbp0',
      awsAdopt: true, awsQuotaPrecheck: true, awsRegion: 'us-east-1' });
    const p = await d.create(options, { clusterName: 'c', nodePortRange: { from: 30000, to: 32767 }, log: pino({ level: 'silent' }) });
    await p.close?.();
    console.log(JSON.stringify(loaded));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as string[];
}

describe('provider registry', () => {
  it('--provider local never loads the AWS SDK; --provider aws does', () => {
    expect(sdkModulesLoadedCreating('local')).toEqual([]);
    expect(sdkModulesLoadedCreating('aws').length).toBeGreaterThan(0);
  }, 60_000);

  it('gives every provider flag one owner, and every message of a flag names it', () => {
    const seen = new Map<string, string>();
    for (const p of PROVIDERS) {
      for (const f of p.flags) {
        expect(seen.get(attributeName(f))).toBeUndefined();
        seen.set(attributeName(f), p.name);
      }
    }
    const local = PROVIDERS.find((p) => p.name === 'local')!;
    const bad = local.options.safeParse({
      pool: ['10.0.0.300/24'],
      dataplane: 'x',
      proxyBackend: 'y',
      vipInterface: '',
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.message.split(':')[0])).toEqual([
      '--pool',
      '--dataplane',
      '--proxy-backend',
      '--vip-interface',
    ]);
  });
});

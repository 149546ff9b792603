import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { MODEL_SERIALIZER, NOT_RUN, builtinShim, notRun, undiciStub } from './bundle-controller.ts';

const REPO = fileURLToPath(new URL('../', import.meta.url));

describe('the modules the controller bundle leaves out (NOT_RUN)', () => {
  it('matches a listed file exactly and a listed directory by prefix', () => {
    expect(notRun('src/cli/demo.js')).toBe(true);
    expect(notRun('src/operate/doctor.js')).toBe(true);
    expect(notRun('providers/local/l2/demo/l2-demo.js')).toBe(true);
    expect(notRun('src/cli/run.js')).toBe(false);
    expect(notRun('src/cli/demo-nodes.js')).toBe(false);
    expect(notRun('providers/local/kube-provider.js')).toBe(false);
  });

  it('names modules that exist, each loaded by a dynamic import of ours', () => {
    const sources = ['src', 'providers'].flatMap((dir) =>
      readdirSync(join(REPO, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => readFileSync(join(REPO, dir, f), 'utf8')),
    );
    const dynamic = sources.flatMap((s) => [...s.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => m[1]!));
    for (const entry of NOT_RUN) {
      // the compiled .js name of a .ts source, or a directory
      const source = entry.endsWith('/') ? entry : entry.replace(/\.js$/, '.ts');
      expect([entry, existsSync(join(REPO, source))]).toEqual([entry, true]);
      const base = entry.endsWith('/') ? entry.split('/').at(-2)! : source.split('/').at(-1)!;
      expect([entry, dynamic.some((d) => d.includes(entry.endsWith('/') ? `/${base}/` : base))]).toEqual([entry, true]);
    }
  });
});

const load = (source: string): Promise<Record<string, unknown>> =>
  import(`data:text/javascript,${encodeURIComponent(source)}`) as Promise<Record<string, unknown>>;

describe('what the controller bundle puts in place of some imports', () => {
  it("node:http: Node's own module and its names, without the lazily loaded WebSocket", async () => {
    const shim = await load(builtinShim('node:http'));
    const http = process.getBuiltinModule('node:http');
    expect(shim['default']).toBe(http);
    expect(shim['createServer']).toBe(http.createServer);
    expect(shim['request']).toBe(http.request);
    expect(shim['Agent']).toBe(http.Agent);
  });

  it('a module named without node: (crypto) is the same module, each name there', async () => {
    const shim = await load(builtinShim('crypto'));
    const crypto = process.getBuiltinModule('node:crypto');
    expect(shim['default']).toBe(crypto);
    expect(shim['createHash']).toBe(crypto.createHash);
    expect(shim['webcrypto']).toBe(crypto.webcrypto);
  });

  it("client-node's model serializer: primitives pass as the real one passes them, a model type throws", async () => {
    const stand = (await load(MODEL_SERIALIZER))['ObjectSerializer'] as typeof real;
    // the control: the real one, from client-node's own module
    const { ObjectSerializer: real } = (await import(
      '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js' as string
    )) as {
      ObjectSerializer: { serialize(d: unknown, t: string): unknown; deserialize(d: unknown, t: string): unknown };
    };
    for (const [data, type] of [
      ['app=web,tier!=db', 'string'],
      [undefined, 'string'],
      [true, 'boolean'],
      [42, 'number'],
      [undefined, 'V1Pod'],
    ] as const) {
      expect(stand.serialize(data, type)).toEqual(real.serialize(data, type));
      expect(stand.deserialize(data, type)).toEqual(real.deserialize(data, type));
    }
    expect(() => stand.serialize({ metadata: {} }, 'V1Pod')).toThrow(
      /model serializer \(V1Pod\) is not part of the controller's bundle/,
    );
    expect(() => stand.deserialize({ metadata: {} }, 'V1Pod')).toThrow(/V1Pod/);
  });

  it('undici: every name it exports, each failing loudly if called', async () => {
    const stub = await load(undiciStub(REPO));
    for (const name of ['Agent', 'ProxyAgent', 'fetch', 'request']) expect(typeof stub[name]).toBe('function');
    expect(() => (stub['fetch'] as () => unknown)()).toThrow(
      /undici\.fetch: undici is not part of the controller's bundle/,
    );
    expect(() => new (stub['Agent'] as new () => unknown)()).toThrow(/undici\.Agent/);
  });
});

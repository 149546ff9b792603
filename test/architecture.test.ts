/**
 * The shape of the code, checked: shipped files (what the image runs: src/, providers/, bin/) import nothing
 * under test/ and never jest; the static imports between shipped files form no circle; the model is pure.
 * Imports are read with TypeScript's own pre-processor, the parser the compiler uses.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHIPPED = ['src', 'providers', 'bin'];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path);
    return /\.(ts|js)$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

interface Imports {
  /** relative imports, resolved to files of the repository */
  local: string[];
  /** package and node: imports, as written */
  packages: string[];
}

function importsOf(file: string): Imports {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, false);
  const specifiers = info.importedFiles.map((f) => f.fileName);
  return {
    local: specifiers.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(dirname(file), s))),
    packages: specifiers.filter((s) => !s.startsWith('.')),
  };
}

const shipped = SHIPPED.flatMap((d) => filesUnder(join(ROOT, d))).map((f) => relative(ROOT, f));
const graph = new Map(shipped.map((f) => [f, importsOf(join(ROOT, f))]));

/** Every circle of static imports, each reported once (by its smallest member). */
function circles(): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file)?.local ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === 'open') {
        const loop = stack.slice(stack.indexOf(next));
        const first = [...loop].sort()[0]!;
        const start = loop.indexOf(first);
        const canonical = [...loop.slice(start), ...loop.slice(0, start)];
        found.set(canonical.join(' -> '), canonical);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return [...found.values()];
}

describe('the shape of the code', () => {
  it('reads the imports of every shipped file', () => {
    expect(shipped.length).toBeGreaterThan(50);
    expect(graph.get('src/controller/controller.ts')?.local).toContain('src/controller/pipeline.ts');
  });

  it('ships no file that imports test/ or jest', () => {
    const offenders = [...graph].flatMap(([file, imports]) => [
      ...imports.local.filter((i) => i.startsWith('test/')).map((i) => `${file} imports ${i}`),
      ...imports.packages.filter((p) => p.startsWith('@jest/') || p === 'jest').map((p) => `${file} imports ${p}`),
    ]);
    expect(offenders).toEqual([]);
  });

  it('has no import circles between shipped files', () => {
    expect(circles().map((c) => [...c, c[0]].join(' -> '))).toEqual([]);
  });

  it('keeps the model pure: no I/O module, no client-node, nothing from the edges', () => {
    const io = /^(node:(fs|net|http|https|child_process|dgram|dns)|@kubernetes\/|@aws-sdk\/|@azure\/|undici|pino)/;
    const offenders = [...graph]
      .filter(([file]) => file.startsWith('src/model/'))
      .flatMap(([file, imports]) => [
        ...imports.packages.filter((p) => io.test(p)).map((p) => `${file} imports ${p}`),
        ...imports.local.filter((i) => !i.startsWith('src/model/')).map((i) => `${file} imports ${i}`),
      ]);
    expect(offenders).toEqual([]);
  });
});

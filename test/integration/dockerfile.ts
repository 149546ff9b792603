/**
 * Just enough of Dockerfile and .dockerignore syntax to reproduce our own image without a Docker engine
 * (image.test.ts, bench/lib/compiled.ts): stages, WORKDIR, COPY (with --from), RUN, ENV, LABEL, USER,
 * ENTRYPOINT; and the build stage's commands run as the image build runs them.
 */
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));

/**
 * Runs a stage's commands after its `npm ci` in `cwd`, the stage's WORKDIR: the repository's node_modules
 * (linked) stands in for that install, and Node 26 comes first on PATH, as on the base image.
 */
export function runAfterInstall(commands: string[], cwd: string): void {
  symlinkSync(NODE_MODULES, join(cwd, 'node_modules'));
  for (const command of commands)
    execFileSync('sh', ['-c', command], {
      cwd,
      stdio: 'pipe',
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: cwd },
    });
}

export interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

export interface Stage {
  name?: string;
  workdir: string;
  copies: Copy[];
  runs: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  user?: string;
  entrypoint?: string[];
}

const PAIR = /([\w.-]+)=("((?:[^"\\]|\\.)*)"|\S+)/g;

function pairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(PAIR)) out[m[1]!] = m[3] ?? m[2]!;
  return out;
}

/** Instructions, one per logical line (continuations joined, comments dropped). */
function instructions(dockerfile: string): [string, string][] {
  const out: [string, string][] = [];
  let pending = '';
  for (const raw of dockerfile.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (!whole) continue;
    const space = whole.indexOf(' ');
    out.push([whole.slice(0, space).toUpperCase(), whole.slice(space + 1).trim()]);
  }
  return out;
}

export function parseDockerfile(dockerfile: string): Stage[] {
  const stages: Stage[] = [];
  let stage: Stage | undefined;
  for (const [op, rest] of instructions(dockerfile)) {
    if (op === 'FROM') {
      const name = /\bAS\s+(\S+)/i.exec(rest)?.[1];
      stage = { ...(name ? { name } : {}), workdir: '/', copies: [], runs: [], env: {}, labels: {} };
      stages.push(stage);
      continue;
    }
    if (!stage) continue; // ARG before the first FROM
    if (op === 'WORKDIR') stage.workdir = rest;
    else if (op === 'RUN') stage.runs.push(rest);
    else if (op === 'ENV') Object.assign(stage.env, pairs(rest));
    else if (op === 'LABEL') Object.assign(stage.labels, pairs(rest));
    else if (op === 'USER') stage.user = rest;
    else if (op === 'ENTRYPOINT') stage.entrypoint = JSON.parse(rest) as string[];
    else if (op === 'COPY') {
      const words = rest.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      stage.copies.push({ ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1]! });
    }
  }
  return stages;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches any number of directories, none included
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * .dockerignore -> is this context path (relative, no leading ./) left out? A pattern that matches a
 * directory leaves out everything under it. Negations (`!`) are not used here and are refused.
 */
export function dockerIgnored(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      if (l.startsWith('!')) throw new Error(`.dockerignore: negation is not supported by this reproduction: ${l}`);
      return globToRegExp(l.replace(/^\/+|\/+$/g, ''));
    });
  return (path) => {
    const parts = path.split('/');
    for (let n = 1; n <= parts.length; n++) {
      const prefix = parts.slice(0, n).join('/');
      if (patterns.some((p) => p.test(prefix))) return true;
    }
    return false;
  };
}

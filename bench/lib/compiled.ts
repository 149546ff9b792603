/**
 * Ours as its image runs it: the sources compiled to JavaScript by the Dockerfile's own build-stage commands,
 * in a directory of their own (what the image ships: bin, src, providers, deploy and package.json; tools and
 * the tsconfigs for the build), with the build stage's bundled modules over the repository's node_modules as
 * the final stage copies them (the rest linked). A benchmark of memory must run this, not the .ts sources:
 * Node's type stripper adds about 15-20 MB of RSS to a process that runs them, and client-node as published
 * 20-25 MB more than bundled.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDockerfile, runAfterInstall } from '../../test/integration/dockerfile.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = ['bin', 'src', 'providers', 'deploy', 'tools', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

let built: string | undefined;

/** The compiled copy's bin/lb-provisioner.js (made once per process, removed when it exits). */
export function compiledBin(): string {
  if (built) return built;
  const stages = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const build = stages.find((s) => s.name === 'build');
  // its first RUN installs the dependencies (the repository's node_modules here), the others compile
  const compile = build?.runs.slice(1) ?? [];
  if (compile.length === 0) throw new Error('Dockerfile: no build stage with a compile command after its npm ci');
  const dir = mkdtempSync(join(tmpdir(), 'lbp-compiled-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const entry of SHIPPED)
    cpSync(join(REPO, entry), join(dir, entry), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  runAfterInstall(compile, dir);
  // the final stage's COPY --from=build <dir> ./node_modules: those files over the production node_modules
  const overlays = (stages.at(-1)?.copies ?? [])
    .filter((c) => c.from === 'build' && /^(\.\/)?node_modules\/?$/.test(c.dest))
    .map((c) => join(dir, relative(build!.workdir, c.sources[0]!)));
  if (overlays.length > 0) {
    rmSync(join(dir, 'node_modules'));
    overlay(join(REPO, 'node_modules'), overlays, join(dir, 'node_modules'));
  }
  built = join(dir, 'bin/lb-provisioner.js');
  return built;
}

/** dest mirrors base by links, except where a directory of `overs` has the same path: copied from it. */
function overlay(base: string, overs: string[], dest: string): void {
  mkdirSync(dest, { recursive: true });
  const names = new Set([...readdirSync(base), ...overs.flatMap((o) => (existsSync(o) ? readdirSync(o) : []))]);
  for (const name of names) {
    const over = overs.map((o) => join(o, name)).filter((o) => existsSync(o));
    if (over.length === 0) symlinkSync(join(base, name), join(dest, name));
    else if (!existsSync(join(base, name))) cpSync(over.at(-1)!, join(dest, name), { recursive: true });
    else if (over.some((o) => statSync(o).isDirectory())) overlay(join(base, name), over, join(dest, name));
    else cpSync(over.at(-1)!, join(dest, name));
  }
}

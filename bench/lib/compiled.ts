/**
 * Ours as its image runs it: the sources compiled to JavaScript by the Dockerfile's own build-stage commands,
 * in a directory of their own (what the image ships: bin, src, providers, deploy and package.json; its
 * node_modules linked to the repository's). A benchmark of memory must run this, not the .ts sources: Node's
 * type stripper adds about 20 MB of RSS to a process that runs them.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDockerfile } from '../../test/integration/dockerfile.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SHIPPED = ['bin', 'src', 'providers', 'deploy', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

let built: string | undefined;

/** The compiled copy's bin/lb-provisioner.js (made once per process, removed when it exits). */
export function compiledBin(): string {
  if (built) return built;
  const build = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).find((s) => s.name === 'build');
  // its first RUN installs the dependencies (the repository's node_modules here), the others compile
  const compile = build?.runs.slice(1) ?? [];
  if (compile.length === 0) throw new Error('Dockerfile: no build stage with a compile command after its npm ci');
  const dir = mkdtempSync(join(tmpdir(), 'lbp-compiled-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (const entry of SHIPPED)
    cpSync(join(REPO, entry), join(dir, entry), { recursive: true, filter: (src) => !src.endsWith('.test.ts') });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  for (const command of compile)
    execFileSync('sh', ['-c', command], {
      cwd: dir,
      stdio: 'pipe',
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: process.env['HOME'] ?? dir },
    });
  built = join(dir, 'bin/lb-provisioner.js');
  return built;
}

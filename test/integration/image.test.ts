/**
 * The image, reproduced without a Docker engine: the final stage's files are copied the way its COPY lines
 * copy them (minus what .dockerignore leaves out of the context), node_modules comes from the deps stage's own
 * `npm ci` command run on its own COPY lines, src and providers from the build stage's COPY lines and its
 * compile command, client-node's entry module from its bundle command, the ENTRYPOINT's link is made as the
 * RUN line makes it, and the ENV lines are the environment. Then `lb-provisioner --help`, an import of every
 * shipped module, the bundle's contents, the userspace proxy's worker, and `run` against the real dev
 * apiserver, from that directory. A file the Dockerfile forgets, a shipped import of a dev dependency, a
 * module the compiled tree can't find, or a name the bundle lacks fails here. Not reproduced: the addon
 * stage (the L2 speaker's C addon, built with the
 * image's gcc; the controller never loads it) and the base image itself (Node 26 here is the project's
 * pinned `node`).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { aService } from '../builders/service.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';
import { uniqueNamespace, waitFor } from '../harness/fixtures.ts';
import { dockerIgnored, parseDockerfile, runAfterInstall, type Stage } from './dockerfile.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NPM_CLI = process.env['npm_execpath'] ?? '/usr/lib/node_modules/npm/bin/npm-cli.js';

/** Copies a context path to dest, leaving out what .dockerignore excludes; returns the files copied. */
function copyFromContext(source: string, dest: string, ignore: (rel: string) => boolean): string[] {
  const abs = join(REPO, source);
  if (ignore(source)) return [];
  if (!statSync(abs).isDirectory()) {
    mkdirSync(dirname(dest), { recursive: true });
    cpSync(abs, dest);
    return [source];
  }
  return readdirSync(abs).flatMap((name) => copyFromContext(join(source, name), join(dest, name), ignore));
}

/** Runs a stage's COPY lines from the build context into root (the stage's WORKDIR under root). */
function copyStage(stage: Stage, root: string, ignore: (rel: string) => boolean): string[] {
  const copied: string[] = [];
  for (const c of stage.copies.filter((c) => c.from === undefined)) {
    const dest = join(root, c.dest.startsWith('/') ? c.dest : join(stage.workdir, c.dest));
    const intoDir = c.dest.endsWith('/') || c.sources.length > 1;
    for (const source of c.sources)
      copied.push(...copyFromContext(source, intoDir ? join(dest, source.split('/').pop()!) : dest, ignore));
  }
  return copied;
}

const du = (path: string) => Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) * 1024;

describe('the image, reproduced from the Dockerfile', () => {
  let root: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let cp: ControlPlane;
  const stages = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const final = stages[stages.length - 1]!;
  const ignore = dockerIgnored(readFileSync(join(REPO, '.dockerignore'), 'utf8'));

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lbp-image-'));
    app = join(root, final.workdir);
    // the deps stage: its COPY lines, then its RUN line, which must be an `npm ci` (run with our npm on Node 26)
    const deps = stages.find((s) => s.name === 'deps')!;
    const depsRoot = join(root, 'stage-deps');
    copyStage(deps, depsRoot, ignore);
    const [install] = deps.runs;
    expect(install).toMatch(/^npm ci /);
    const npmArgs = install!.split(/\s+/).slice(1);
    execFileSync(process.execPath, [NPM_CLI, ...npmArgs, '--prefer-offline'], {
      cwd: join(depsRoot, deps.workdir),
      stdio: 'pipe',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    // the build stage: its COPY lines; its `npm ci` (all dependencies, for typescript) is the repository's own
    // node_modules; then its other RUN lines (the compile), with Node 26 first on PATH as on the base image
    const build = stages.find((s) => s.name === 'build')!;
    const buildRoot = join(root, 'stage-build');
    copyStage(build, buildRoot, ignore);
    const [buildInstall, ...compile] = build.runs;
    expect(buildInstall).toMatch(/^npm ci /);
    expect(buildInstall).not.toMatch(/--omit=dev/);
    expect(compile.length).toBeGreaterThan(0);
    runAfterInstall(compile, join(buildRoot, build.workdir));
    // the final stage (the addon stage is not reproduced: see above)
    copyStage(final, root, ignore);
    const stageRoots: Record<string, string> = { deps: depsRoot, build: buildRoot };
    for (const c of final.copies.filter((c) => c.from !== undefined && c.from in stageRoots))
      cpSync(join(stageRoots[c.from!]!, c.sources[0]!), join(app, c.dest), { recursive: true });
    // RUN ln -s <target> <link>: the ENTRYPOINT's command
    const link = final.runs.map((r) => /^ln -s (\S+) (\S+)$/.exec(r)).find(Boolean);
    expect(link).toBeTruthy();
    mkdirSync(join(root, dirname(link![2]!)), { recursive: true });
    symlinkSync(join(root, link![1]!), join(root, link![2]!));
    env = {
      PATH: `${join(root, dirname(link![2]!))}:${dirname(process.execPath)}:/usr/bin:/bin`,
      HOME: root,
      ...final.env,
    };
    cp = await startControlPlane();
  }, 300_000);
  afterAll(async () => {
    await cp?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('has the OCI labels, a non-root user, and lb-provisioner as its ENTRYPOINT', () => {
    for (const label of ['source', 'title', 'description', 'licenses', 'version'])
      expect(final.labels[`org.opencontainers.image.${label}`]).toBeTruthy();
    expect(final.user).toBe('65532:65532');
    expect(final.entrypoint).toEqual(['lb-provisioner']);
    expect(readFileSync(join(REPO, 'bin/lb-provisioner.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('ships production dependencies only, and no test files', () => {
    const modules = join(app, 'node_modules');
    expect(existsSync(join(modules, '@kubernetes/client-node'))).toBe(true);
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const dev = Object.entries(lock.packages).filter(([path, p]) => path && p.dev);
    expect(dev.length).toBeGreaterThan(50);
    for (const [path] of dev) expect(existsSync(join(app, path))).toBe(false);
    const shipped = readdirSync(app, { recursive: true, encoding: 'utf8' }).filter(
      (f) => !f.startsWith('node_modules'),
    );
    // compiled: JavaScript only, which bin/lb-provisioner.js runs when main.ts is absent
    expect(shipped.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(shipped).toContain('src/cli/main.js');
    expect(shipped).toContain('providers/local/dataplane/userspace-worker.js');
    const size = { nodeModules: du(modules), app: du(app) - du(modules) };
    process.stdout.write(
      `image estimate: node_modules ${(size.nodeModules / 2 ** 20).toFixed(1)} MiB, our files ${(size.app / 2 ** 20).toFixed(1)} MiB, on node:26-slim\n`,
    );
  });

  it('`lb-provisioner --help` runs from the copy, through the ENTRYPOINT link', () => {
    const r = spawnSync('lb-provisioner', ['--help'], { cwd: app, env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: lb-provisioner/);
    expect(r.stdout).toMatch(/\brun\b/);
  });

  it('every shipped module resolves all its imports with production dependencies only', () => {
    const modules = readdirSync(app, { recursive: true, encoding: 'utf8' })
      .filter((f) => (f.startsWith('src/') || f.startsWith('providers/')) && f.endsWith('.js'))
      .map((f) => join(app, f));
    expect(modules.length).toBeGreaterThan(50);
    // a dev dependency (the control: it must be reported, or the check could never fail) then every module;
    // ESM resolves all static imports before any code runs, so an entry point that needs its own context
    // (a worker thread's) fails later than resolution and is not reported
    const script = `for (const m of ['@jest/globals', ...${JSON.stringify(modules)}]) {
      try { await import(m); } catch (err) {
        // not found, or found without a name it imports (the bundled client-node missing one)
        if (err.code === 'ERR_MODULE_NOT_FOUND' || /Cannot find (module|package)|does not provide an export named/.test(err.message)) console.log(m);
      }
    }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const unresolved = r.stdout.split('\n').filter(Boolean);
    expect(unresolved[0]).toBe('@jest/globals');
    expect(unresolved.slice(1).map((l) => relative(app, l))).toEqual([]);
  });

  it('ships @kubernetes/client-node as one bundled module with every name the compiled code reads', async () => {
    const entry = join(app, 'node_modules/@kubernetes/client-node/dist/index.js');
    const text = readFileSync(entry, 'utf8');
    // as published, index.js re-exports some 40 modules of its own (the control); the bundle imports none
    const relativeImport = /(\bfrom|\bimport)\s*\(?\s*["']\.\.?\//;
    expect(readFileSync(join(REPO, 'node_modules/@kubernetes/client-node/dist/index.js'), 'utf8')).toMatch(
      relativeImport,
    );
    expect(text).not.toMatch(relativeImport);
    // every name the shipped modules read from it is there
    const { compiledSources, namesUsed } = await import('../../tools/bundle-dependencies.ts');
    const shipped = ['src', 'providers'].flatMap((d) => compiledSources(join(app, d)));
    const read = new Set(shipped.flatMap((s) => [...namesUsed('@kubernetes/client-node', s)]));
    const script = `const m = await import(${JSON.stringify(pathToFileURL(entry).href)}); console.log(JSON.stringify(Object.keys(m)));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const exported = JSON.parse(r.stdout) as string[];
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((n) => !exported.includes(n))).toEqual([]);
  });

  it("the userspace proxy's worker thread starts from the compiled tree", () => {
    // the worker's module is found by its URL, not by an import, so the test above cannot see it
    // (a script file, not -e: a worker thread inherits the parent's --input-type and refuses to start with it)
    const script = join(app, 'worker-check.mjs');
    writeFileSync(
      script,
      `import { UserspaceBackend } from './providers/local/dataplane/userspace-backend.js';
      const b = new UserspaceBackend({ workers: 1 });
      await b.apply([]);
      await b.close();
      console.log('worker answered');`,
    );
    const r = spawnSync(process.execPath, [script], {
      cwd: app,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('worker answered');
  });

  it("`run`'s bundle holds none of client-node's typed API classes or models, which the operator commands' copy has", () => {
    const dist = join(app, 'dist');
    const chunks = readdirSync(dist).filter((f) => f.endsWith('.js'));
    expect(chunks).toContain('main.js');
    // the control: the compiled tree's client-node (every command but run) has them
    const operate = readFileSync(join(app, 'node_modules/@kubernetes/client-node/dist/index.js'), 'utf8');
    const held = /CoreV1Api|V1PodSpec|V1ServiceSpec/g;
    expect(new Set(operate.match(held))).toEqual(new Set(['CoreV1Api', 'V1PodSpec', 'V1ServiceSpec']));
    for (const chunk of chunks)
      expect([chunk, readFileSync(join(dist, chunk), 'utf8').match(held)]).toEqual([chunk, null]);
  });

  it("`run`'s bundle holds no undici and imports Node's own modules without their ES module facades", () => {
    const dist = join(app, 'dist');
    const chunks = readdirSync(dist).filter((f) => f.endsWith('.js'));
    // the control: undici as installed carries its HTTP parser as a WebAssembly module (base64 "\0asm")
    const llhttp = readFileSync(join(app, 'node_modules/undici/lib/llhttp/llhttp-wasm.js'), 'utf8');
    expect(llhttp).toContain('AGFzbQ');
    // which of Node's modules an ES module imports: only the banner's node:module (createRequire)
    const imported = (text: string): string[] =>
      [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)(["'])([@a-z][\w@/:.-]*)\1/g)].map((m) => m[2]!);
    expect(imported(`import{a}from"node:http";import("node:crypto");import 'vm';import{b}from"./c.js"`)).toEqual([
      'node:http',
      'node:crypto',
      'vm',
    ]);
    for (const chunk of chunks) {
      const text = readFileSync(join(dist, chunk), 'utf8');
      const others = imported(text).filter((m) => isBuiltin(m) && m !== 'node:module');
      expect([chunk, text.includes('AGFzbQ'), others]).toEqual([chunk, false, []]);
    }
  });

  it("`run`'s bundle finds the files beside our modules (the userspace proxy's worker) in the compiled tree", () => {
    // tools/bundle-controller.ts rewrites each import.meta.url of ours to the URL its module had there
    const dist = join(app, 'dist');
    const urls = readdirSync(dist)
      .filter((f) => f.endsWith('.js'))
      .flatMap((f) => [...readFileSync(join(dist, f), 'utf8').matchAll(/new URL\("([^"]+)",import\.meta\.url\)/g)])
      .map((m) => m[1]!);
    expect(urls).toContain('../providers/local/dataplane/userspace-backend.js');
    for (const url of urls) expect([url, existsSync(join(dist, url))]).toEqual([url, true]);
  });

  it('`lb-provisioner run` from the copy syncs a Service on the real apiserver, from its bundle alone', async () => {
    // the compiled controller modules moved away: a `run` that loaded them instead of dist/ would not start
    const aside = ['src/cli/run.js', 'src/controller'].map((p) => [join(app, p), join(app, `${p}.aside`)] as const);
    for (const [from, to] of aside) renameSync(from, to);
    const child = spawn(
      'lb-provisioner',
      [
        'run',
        '--kubeconfig',
        cp.adminKubeconfigPath,
        '--provider',
        'fake',
        // leader election as shipped: its Lease goes through the bundled client-node too
        '--metrics-bind-address',
        '0',
      ],
      { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const core = cp.kubeConfig().makeApiClient(k8s.CoreV1Api);
      const ns = await uniqueNamespace(cp.kubeConfig(), 'image');
      await core.createNamespacedService({ namespace: ns, body: aService('web', ns).withPorts(80).manifest() });
      const ingress = await waitFor(
        async () => (await core.readNamespacedService({ name: 'web', namespace: ns })).status?.loadBalancer?.ingress,
        { message: `an address from the copied image; output:\n${output}`, timeoutMs: 30_000 },
      );
      expect(ingress.length).toBeGreaterThan(0);
      expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find/);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
      for (const [from, to] of aside) renameSync(to, from);
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

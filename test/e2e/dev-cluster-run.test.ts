/**
 * A new user's first minutes, with nothing but the CLI: `lb-provisioner dev-cluster`, then `lb-provisioner
 * run` exactly as the README and dev-cluster print it (no deploy/ applied), then a LoadBalancer Service.
 * Everything runs in a network namespace of its own, so the default ports (the metrics on 8080) are free
 * whatever else runs on this machine; the Services are made with the kubectl dev-cluster built.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../harness/fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));
const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const root = process.getuid?.() === 0;
if (!root) console.warn('skipping the dev-cluster + run test: needs root (a network namespace of its own)');

const ns = `lbpt${process.pid}-dev`;

interface Proc {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** `lb-provisioner <args>` inside the namespace. */
function lbp(args: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return {
    child,
    output: () => output,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
}

/** `npx lb-provisioner run ...` as printed -> the arguments after the program name. */
function argsOf(command: string, kubeconfig: string): string[] {
  const words = command.trim().split(/\s+/);
  expect(words.slice(0, 3)).toEqual(['npx', 'lb-provisioner', 'run']);
  return words.slice(2).map((w) => (w === '~/.kube/config' ? kubeconfig : w));
}

(root ? describe : describe.skip)('a new user: dev-cluster, then run as printed', () => {
  let dir: string;
  let kubeconfig: string;
  let kubectl: string;
  let printedRun: string;
  let cluster: Proc;

  const k = (args: string[], input?: string): string =>
    execFileSync('ip', ['netns', 'exec', ns, kubectl, '--kubeconfig', kubeconfig, ...args], {
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
    });

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    dir = mkdtempSync(join(tmpdir(), 'lbp-devrun-'));
    kubeconfig = join(dir, 'kc');
    cluster = lbp(['dev-cluster', '--kubeconfig-out', kubeconfig]);
    // the ready line goes to stdout and the `try:` line to stderr: two pipes, read in either order
    const ready = await waitFor(
      () => {
        const out = cluster.output();
        const k = /dev cluster ready: .* kubectl=(\S+)/.exec(out);
        const t = /try: (npx lb-provisioner run .*)/.exec(out);
        return k && t ? ([k[1]!, t[1]!] as const) : undefined;
      },
      { message: 'dev-cluster to be ready and to print its `run` command', timeoutMs: 120_000 },
    );
    [kubectl, printedRun] = ready;
  }, 150_000);

  afterAll(async () => {
    cluster?.child.kill('SIGTERM');
    await cluster?.exited;
    // nothing may outlive the test in the namespace
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts run, creates a Service, and resolves with its address and how long it took. */
  async function addressFrom(runArgs: string[], service: string): Promise<{ ip: string; ms: number }> {
    const run = lbp(runArgs);
    try {
      k(['create', 'namespace', service]);
      const started = Date.now();
      k(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: service, namespace: service },
          spec: { type: 'LoadBalancer', selector: { app: service }, ports: [{ port: 80 }] },
        }),
      );
      const ip = await waitFor(
        () => k(['get', 'svc', service, '-n', service, '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']).trim(),
        { message: `an address for ${service}; run's output:\n${run.output()}`, timeoutMs: 30_000, intervalMs: 250 },
      );
      const ms = Date.now() - started;
      k(['delete', 'svc', service, '-n', service, '--wait=true', '--timeout=20s']);
      return { ip, ms };
    } finally {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    }
  }

  it("the README's `run` command: an address within seconds, with no deploy/ applied", async () => {
    const readmeRun = /^npx lb-provisioner run .*$/m.exec(README)![0];
    const { ip, ms } = await addressFrom(argsOf(readmeRun, kubeconfig), 'readme');
    expect(ip).toMatch(/^192\.0\.2\.([0-9]|1[0-5])$/);
    expect(ms).toBeLessThan(10_000);
    expect(k(['get', 'namespace', 'lb-provisioner', '-o', 'name']).trim()).toBe('namespace/lb-provisioner');
  }, 60_000);

  it('the command dev-cluster prints (no friendly flags: --kubeconfig, --provider local, --pool)', async () => {
    expect(argsOf(printedRun, kubeconfig)).toEqual([
      'run',
      '--kubeconfig',
      kubeconfig,
      '--provider',
      'local',
      '--pool',
      '198.51.100.0/28',
    ]);
    const { ip, ms } = await addressFrom(argsOf(printedRun, kubeconfig), 'printed');
    expect(ip).toMatch(/^198\.51\.100\./);
    expect(ms).toBeLessThan(10_000);
  }, 60_000);

  it('a killed run leaves its data plane; the next one (another cluster name) takes it over; cleanup removes it once none runs', async () => {
    const owners = () => {
      const link = spawnSync('ip', ['-n', ns, '-d', 'link', 'show', 'lbp0'], { encoding: 'utf8' }).stdout;
      const table = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'lbprovisioner'], {
        encoding: 'utf8',
      }).stdout;
      return `${/alias (\S+)/.exec(link)?.[1] ?? '-'} ${/comment "([^"]+)"/.exec(table)?.[1] ?? '-'}`;
    };
    const proxyRun = (cluster: string) =>
      lbp([
        'run',
        '--kubeconfig',
        kubeconfig,
        '--provider',
        'local',
        '--pool',
        '198.51.100.16/28',
        '--dataplane',
        'proxy',
        '--no-leader-elect',
        '--metrics-bind-address',
        '0',
        '--cluster-name',
        cluster,
      ]);

    // the data plane starts with the first Service it forwards (no nodes: it forwards to none)
    k(['create', 'namespace', 'proxy']);
    k(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'proxy', namespace: 'proxy' },
        spec: { type: 'LoadBalancer', selector: { app: 'proxy' }, ports: [{ port: 80 }] },
      }),
    );
    const first = proxyRun('first');
    await waitFor(() => owners() === 'owner=lb-provisioner/first owner=lb-provisioner/first', {
      message: "the first run's data plane",
      timeoutMs: 20_000,
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}\nrun's output:\n${first.output()}`);
    });
    first.child.kill('SIGKILL');
    await first.exited;
    expect(owners()).toBe('owner=lb-provisioner/first owner=lb-provisioner/first');

    const second = proxyRun('second');
    try {
      // the log line is written after the alias is set, and reaches us a little later still: wait for both
      await waitFor(
        () =>
          owners() === 'owner=lb-provisioner/second owner=lb-provisioner/second' &&
          second.output().includes('took over the VIP interface a stopped lb-provisioner left'),
        { message: 'the second run to take the data plane over (and say so)', timeoutMs: 20_000 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\nowners: ${owners()}\nrun's output:\n${second.output()}`);
      });
      const refused = lbp(['cleanup']);
      expect(await refused.exited).toBe(2);
      expect(refused.output()).toMatch(/already runs on this host \(pid \d+\): stop it before cleaning up/);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
    // a clean stop keeps the data plane, for the next instance to take over without dropping traffic
    expect(owners()).toBe('owner=lb-provisioner/second owner=lb-provisioner/second');

    const cleanup = lbp(['cleanup']);
    expect(await cleanup.exited).toBe(0);
    expect(cleanup.output()).toContain(
      'cleanup: removed nftables table inet lbprovisioner (owner=lb-provisioner/second)',
    );
    expect(cleanup.output()).toContain('cleanup: removed interface lbp0 (owner=lb-provisioner/second)');
    expect(owners()).toBe('- -');
    const again = lbp(['cleanup']);
    expect(await again.exited).toBe(0);
    expect(again.output()).toContain('cleanup: nothing of lb-provisioner is left on this host');
  }, 90_000);
});

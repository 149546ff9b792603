/**
 * `lb-provisioner run --provider azure` as a process of its own against the fake ARM: what an operator
 * runs, with credentials from the environment (DefaultAzureCredential -> the fake authority), the fake's
 * CA trusted through NODE_EXTRA_CA_CERTS, and every log line kept for assertions. The process dies with
 * the test process (setpriv --pdeathsig) and is stopped by its own process-group id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from '../harness/ports.ts';
import { waitFor } from '../harness/fixtures.ts';
import type { FakeArmWorld } from '../azure-fake/world.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = `${REPO}bin/lb-provisioner.js`;

export interface ControllerProcess {
  child: ChildProcess;
  logs: string[];
  metricsPort: number;
  /** the last log lines, for error messages */
  tail(n?: number): string;
  stop(): Promise<void>;
}

export async function startAzureController(
  world: FakeArmWorld,
  kubeconfig: string,
  options: { cluster: string; workers?: number; extraArgs?: string[] },
): Promise<ControllerProcess> {
  const metricsPort = await freePort('127.0.0.1');
  const args = [
    BIN,
    'run',
    '--kubeconfig',
    kubeconfig,
    '--provider',
    'azure',
    '--cluster-name',
    options.cluster,
    '--no-leader-elect',
    '--workers',
    String(options.workers ?? 16),
    '--metrics-bind-address',
    `127.0.0.1:${metricsPort}`,
    '--log-level',
    'debug',
    ...world.cliArgs(),
    ...(options.extraArgs ?? []),
  ];
  const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', process.execPath, ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: '', ...world.env() },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const logs: string[] = [];
  const keep = (prefix: string) => (line: string) => {
    logs.push(prefix + line);
    if (logs.length > 20_000) logs.splice(0, 5_000);
  };
  createInterface({ input: child.stdout! }).on('line', keep(''));
  createInterface({ input: child.stderr! }).on('line', keep('stderr: '));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: ControllerProcess = {
    child,
    logs,
    metricsPort,
    tail: (n = 30) => logs.slice(-n).join('\n'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`the controller exited (${child.exitCode ?? child.signalCode}):\n${proc.tail()}`);
      const res = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => undefined);
      await res?.arrayBuffer();
      return res?.ok;
    },
    { message: `the azure controller to be ready\n${proc.tail()}`, timeoutMs: 30_000, intervalMs: 200 },
  );
  return proc;
}

// Child processes of the harness (etcd, kube-apiserver, kubectl, the build) and the guarantees that
// they never outlive the process that started them.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ChildExit>;
  isRunning(): boolean;
  /** The last lines the process wrote (stdout and stderr interleaved), for error messages. */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after graceMs (0: SIGKILL at once). Kills the whole process group. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  /** Called with each complete stderr line as it arrives. */
  onStderrLine?: (line: string) => void;
  /** written to the command's stdin (runChild only) */
  stdin?: string;
}

const TAIL_BYTES = 32 * 1024;
const live = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
let hooksInstalled = false;

/**
 * Spawns through `setpriv --pdeathsig SIGKILL` so the kernel kills the child when we die, even by
 * SIGKILL (jest killing a worker, a CI timeout). The child gets its own process group so a terminal
 * Ctrl-C reaches only us, and we stop the children in order.
 */
export function spawnChild(bin: string, args: readonly string[], opts: SpawnOptions): Child {
  installExitHooks();
  const proc = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(proc);
  let tail = '';
  const keep = (chunk: string): void => {
    tail = (tail + chunk).slice(-TAIL_BYTES);
  };
  let pendingErr = '';
  proc.stdout?.setEncoding('utf8').on('data', keep);
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    keep(chunk);
    if (!opts.onStderrLine) return;
    pendingErr += chunk;
    const lines = pendingErr.split('\n');
    pendingErr = lines.pop() ?? '';
    for (const line of lines) opts.onStderrLine(line);
  });

  let running = true;
  const exited = new Promise<ChildExit>((resolve) => {
    const done = (exit: ChildExit): void => {
      if (!running) return;
      running = false;
      live.delete(proc);
      if (pendingErr && opts.onStderrLine) opts.onStderrLine(pendingErr);
      resolve(exit);
    };
    proc.once('exit', (code, signal) => done({ code, signal }));
    proc.once('error', (err) => {
      keep(`\n${String(err)}\n`);
      done({ code: null, signal: null });
    });
  });

  const signalGroup = (signal: NodeJS.Signals): void => {
    if (!running || proc.pid === undefined) return;
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // already gone
    }
  };

  return {
    name: opts.name,
    pid: proc.pid ?? -1,
    exited,
    isRunning: () => running,
    outputTail: () => tail,
    async stop(graceMs = 0): Promise<void> {
      if (!running) return;
      if (graceMs > 0) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        return;
      }
      signalGroup('SIGKILL');
      await exited;
    },
  };
}

/** Runs a command to completion and collects its output. */
export async function runChild(
  bin: string,
  args: readonly string[],
  opts: SpawnOptions,
): Promise<{ stdout: string; stderr: string; code: number }> {
  installExitHooks();
  const proc = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args], {
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  let pending = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
    if (!opts.onStderrLine) return;
    const lines = (pending + c).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) opts.onStderrLine(line);
  });
  proc.stdin?.on('error', () => {}); // EPIPE when the command exits without reading its input
  if (opts.stdin !== undefined) proc.stdin?.end(opts.stdin);
  return new Promise((resolve) => {
    proc.once('error', (err) => {
      live.delete(proc);
      resolve({ stdout, stderr: stderr + String(err), code: 127 });
    });
    proc.once('close', (code, signal) => {
      live.delete(proc);
      if (pending && opts.onStderrLine) opts.onStderrLine(pending);
      resolve({ stdout, stderr, code: code ?? (signal ? 128 : 1) });
    });
  });
}

/** Registers synchronous cleanup (removing temp dirs) to run if the process exits; returns its remover. */
export function onProcessExit(cleanup: () => void): () => void {
  installExitHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function killAllNow(): void {
  for (const proc of live) {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, 'SIGKILL');
    } catch {
      try {
        proc.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort on the way out
    }
  }
  cleanups.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      // Someone else listens (dev-cluster): it stops the control plane cleanly itself.
      if (process.listenerCount(signal) > 1) return;
      killAllNow();
      process.removeListener(signal, handler);
      // Adding a listener disabled the default action; restore it so the process still dies.
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

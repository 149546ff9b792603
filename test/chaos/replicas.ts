/**
 * The controller under test: `lb-provisioner run` replicas as processes of their own, supervised like a
 * Deployment would (a replica that exits, by a fault or by itself, is started again after a short pause).
 * Every line they write goes to a log file and through `onLine`, so the soak can grep all of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));
const RESTART_DELAY_MS = 500;

export interface ExitRecord {
  identity: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** true when the soak sent the signal */
  byFault: boolean;
}

export interface ReplicaOptions {
  identity: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  logDir: string;
  onLine: (identity: string, line: string) => void;
  onExit: (exit: ExitRecord) => void;
  onStart?: (identity: string) => void;
  /** a prefix the replica runs under, e.g. `ip netns exec <ns>` (it execs, so the pid stays the replica's) */
  command?: string[] | undefined;
}

export class Replica {
  readonly identity: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  private faultSignal: NodeJS.Signals | undefined;
  private generation = 0;
  private log: WriteStream | undefined;
  private readonly o: ReplicaOptions;
  starts = 0;

  constructor(o: ReplicaOptions) {
    this.o = o;
    this.identity = o.identity;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  start(): void {
    this.starts++;
    this.o.onStart?.(this.identity);
    const gen = ++this.generation;
    this.log = createWriteStream(join(this.o.logDir, `${this.identity}.${gen}.log`));
    const log = this.log;
    // setpriv: the kernel kills the replica when the soak dies, even by SIGKILL
    const [cmd, ...prefix] = [...(this.o.command ?? []), 'setpriv'];
    const child = spawn(
      cmd!,
      [...prefix, '--pdeathsig', 'SIGKILL', '--', process.execPath, BIN, 'run', ...this.o.args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: this.o.env,
      },
    );
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      let pending = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        log.write(chunk);
        const parts = (pending + chunk).split('\n');
        pending = parts.pop() ?? '';
        for (const line of parts) this.o.onLine(this.identity, line);
      });
    }
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        log.end();
        const byFault = this.faultSignal !== undefined;
        this.faultSignal = undefined;
        this.o.onExit({ identity: this.identity, code, signal, byFault });
        resolve();
        if (!this.stopping)
          setTimeout(() => !this.stopping && gen === this.generation && this.start(), RESTART_DELAY_MS);
      });
    });
  }

  /** A fault: the supervisor starts the replica again once it has exited. */
  async signal(sig: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.faultSignal = sig;
    child.kill(sig);
    await this.exited;
  }

  /** Stops for good (SIGTERM, SIGKILL after graceMs). */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

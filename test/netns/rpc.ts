/**
 * JSON lines over stdin/stdout between a test and a process it runs inside a network namespace: the
 * process serves handlers, the test calls them. Keeps one long-lived process per namespace instead of an
 * `ip netns exec` per request.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Handler = (args: Record<string, unknown>) => Promise<unknown> | unknown;

interface Request {
  id: number;
  op: string;
  args: Record<string, unknown>;
}

interface Response {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** In the namespaced process: answer requests from stdin until it closes. */
export function serveRpc(handlers: Record<string, Handler>): void {
  const rl = createInterface({ input: process.stdin });
  const reply = (r: Response): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  rl.on('line', (line) => {
    const req = JSON.parse(line) as Request;
    const h = handlers[req.op];
    if (h === undefined) return reply({ id: req.id, ok: false, error: `unknown op ${req.op}` });
    Promise.resolve()
      .then(() => h(req.args))
      .then(
        (result) => reply({ id: req.id, ok: true, result: result ?? null }),
        (err: unknown) => reply({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  rl.on('close', () => process.exit(0));
}

/** In the test: a handle on one namespaced process. */
export class RpcClient {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  stderr = '';

  constructor(cmd: string, args: string[]) {
    this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-20_000)));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      let r: Response;
      try {
        r = JSON.parse(line) as Response;
      } catch {
        this.stderr += `stdout: ${line}\n`;
        return;
      }
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (r.ok) p?.resolve(r.result);
      else p?.reject(new Error(r.error));
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.#pending.values())
        p.reject(new Error(`process exited (${code ?? signal}): ${this.stderr.slice(-2000)}`));
      this.#pending.clear();
    });
  }

  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    if (!this.alive) return Promise.reject(new Error(`process is not running: ${this.stderr.slice(-2000)}`));
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Closes stdin: the process exits on its own. */
  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
}

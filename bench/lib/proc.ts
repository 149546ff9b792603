/**
 * Controllers under test as processes of their own: spawned through `setpriv --pdeathsig SIGKILL` (it
 * execs, so the pid is the controller's and it dies with the benchmark), in a memory cgroup if asked
 * (bench/lib/memory-cgroup.ts), their output read line by line,
 * and their cost read from /proc: peak RSS (VmHWM) and CPU seconds (user + system, all threads).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { entering } from './memory-cgroup.ts';

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** the last lines it wrote (stdout and stderr), for errors */
  tail(): string;
  /** SIGTERM, then SIGKILL after graceMs */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  env?: NodeJS.ProcessEnv;
  /** each complete line of stdout and stderr, with the time it arrived (performance.now()) */
  onLine?: (line: string, at: number) => void;
  /** join this cgroup (its cgroup.procs file) before exec, so the limits hold from the first instruction */
  cgroupProcs?: string;
}

export function spawnProc(bin: string, args: readonly string[], opts: SpawnOptions): Proc {
  const command = ['setpriv', '--pdeathsig', 'SIGKILL', '--', bin, ...args];
  const [file, ...argv] = opts.cgroupProcs ? [...entering(opts.cgroupProcs), ...command] : command;
  const child: ChildProcess = spawn(file!, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const at = performance.now();
      const parts = (pending + chunk).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        opts.onLine?.(line, at);
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (err) => {
      lines.push(String(err));
      resolve(null);
    });
  });
  let running = true;
  void exited.then(() => (running = false));
  return {
    name: opts.name,
    pid: child.pid ?? -1,
    exited,
    tail: () => lines.slice(-30).join('\n'),
    async stop(graceMs = 15_000) {
      if (!running) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** user + system CPU seconds of a process so far */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** peak resident set (VmHWM) and current resident set (VmRSS) in MB */
export function memoryMB(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { peak: kib('VmHWM') / 1024, now: kib('VmRSS') / 1024 };
}

/**
 * The test control plane's processes, found by their command lines: the kube-apiserver serving `port`
 * and the etcd it names in --etcd-servers. What a controller makes the apiserver and etcd do costs the
 * machine's shared CPU too (and slows whoever else is using the apiserver), so bursts report it beside the
 * controller's own.
 */
export function controlPlanePids(port: number): number[] {
  const cmdlines = new Map<number, string[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      cmdlines.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0'));
    } catch {
      // gone meanwhile
    }
  }
  const pids: number[] = [];
  for (const [pid, args] of cmdlines) {
    if (!args[0]?.endsWith('kube-apiserver') || !args.includes(`--secure-port=${port}`)) continue;
    pids.push(pid);
    const etcd = args.find((a) => a.startsWith('--etcd-servers='))?.slice('--etcd-servers='.length);
    for (const [other, otherArgs] of cmdlines)
      if (etcd && otherArgs[0]?.endsWith('etcd') && otherArgs.includes(`--listen-client-urls=${etcd}`))
        pids.push(other);
  }
  return pids;
}

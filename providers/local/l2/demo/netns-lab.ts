/**
 * The L2 demo's network: node namespaces on one bridge (in a switch namespace of its own) and a leg from the
 * root namespace into it, so this process is the client on the same L2 segment and the dev apiserver is
 * reachable from the nodes. Names carry our PID; a later demo removes what a killed one left behind.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PREFIX = 'lbpd';

async function ip(args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NetnsLab {
  readonly subnet: string;
  readonly #id = `${PREFIX}${process.pid}`;
  readonly #hosts: string[];

  /** `subnet`: the first three octets of a free /24, e.g. "10.213.43" */
  constructor(subnet: string, hosts: string[]) {
    this.subnet = subnet;
    this.#hosts = hosts;
  }

  ns(host: string): string {
    return `${this.#id}-${host}`;
  }

  /** host index i gets .11+i; the root namespace's leg is .1 */
  address(host: string): string {
    return `${this.subnet}.${11 + this.#hosts.indexOf(host)}`;
  }

  get hostAddress(): string {
    return `${this.subnet}.1`;
  }

  async create(): Promise<void> {
    await removeStale();
    const sw = this.ns('sw');
    await ip(['netns', 'add', sw]);
    await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const [i, host] of this.#hosts.entries()) {
      const ns = this.ns(host);
      await ip(['netns', 'add', ns]);
      await ip(['-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await ip(['-n', sw, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', ns, 'addr', 'add', `${this.address(host)}/24`, 'dev', 'eth0']);
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    }
    await ip(['link', 'add', `${this.#id}h`, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', sw]);
    await ip(['-n', sw, 'link', 'set', 'uplink', 'master', 'br0', 'up']);
    await ip(['addr', 'add', `${this.hostAddress}/24`, 'dev', `${this.#id}h`]);
    await ip(['link', 'set', `${this.#id}h`, 'up']);
  }

  async exec(host: string, cmd: string, args: string[], input?: string): Promise<void> {
    const child = execFile('ip', ['netns', 'exec', this.ns(host), cmd, ...args]);
    if (input !== undefined) child.stdin?.end(input);
    await new Promise<void>((resolve, reject) =>
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} in ${host} exited ${code}`)))),
    );
  }

  async destroy(): Promise<void> {
    for (const host of [...this.#hosts, 'sw']) await deleteNamespace(this.ns(host));
    await ip(['link', 'del', `${this.#id}h`]).catch(() => {});
  }

  /** The same, synchronously: for a process on its way out (the harness's exit hook). */
  destroySync(): void {
    const ip = (args: string[]): string => {
      try {
        return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return '';
      }
    };
    for (const host of [...this.#hosts, 'sw']) {
      for (const pid of ip(['netns', 'pids', this.ns(host)])
        .split(/\s+/)
        .filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      ip(['netns', 'del', this.ns(host)]);
    }
    ip(['link', 'del', `${this.#id}h`]);
  }
}

async function deleteNamespace(ns: string): Promise<void> {
  const pids = (await ip(['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean);
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await ip(['netns', 'del', ns]).catch(() => {});
}

async function removeStale(): Promise<void> {
  for (const line of (await ip(['netns', 'list'])).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (pid && !alive(pid)) await deleteNamespace(name);
  }
  for (const line of (await ip(['-o', 'link', 'show'])).split('\n')) {
    const name = new RegExp(`^\\d+: (${PREFIX}(\\d+)h)[@:]`).exec(line);
    if (name && !alive(Number(name[2]))) await ip(['link', 'del', name[1]!]).catch(() => {});
  }
}

/**
 * One proxy data plane per host (per network namespace): an abstract unix socket. The kernel frees it when
 * the holder dies, however it dies, so a crashed instance never blocks its successor and there is no stale
 * lock file to judge. A second instance is told the holder's PID.
 */
import { readFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import type { Server } from 'node:net';

export class HostLockedError extends Error {
  readonly holderPid: number | undefined;
  constructor(name: string, holderPid: number | undefined) {
    super(
      `another lb-provisioner proxy data plane (${name}) already runs on this host${holderPid ? ` (pid ${holderPid})` : ''}`,
    );
    this.name = 'HostLockedError';
    this.holderPid = holderPid;
  }
}

/** The pid of the process that holds a lock, when it answers. */
export function lockHolder(name: string): Promise<number | undefined> {
  return holderPid(`\0${name}`);
}

/**
 * Every lb-provisioner host lock held in this network namespace (listening abstract sockets in
 * /proc/net/unix). None besides our own proves that whatever another lb-provisioner left here is orphaned.
 */
export async function heldHostLocks(prefix = 'lb-provisioner'): Promise<string[]> {
  const table = await readFile('/proc/net/unix', 'utf8').catch(() => '');
  const held = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const [, , , flags, , , , path] = line.trim().split(/\s+/);
    // __SO_ACCEPTCON: a listening socket, the holder itself (accepted connections carry its name too)
    if (flags === '00010000' && path?.startsWith(`@${prefix}`)) held.add(path.slice(1));
  }
  return [...held];
}

function holderPid(path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const c = createConnection({ path });
    let text = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (text += d));
    c.on('end', () => resolve(Number(text) || undefined));
    c.on('error', () => resolve(undefined));
    c.setTimeout(1000, () => {
      c.destroy();
      resolve(undefined);
    });
  });
}

export class HostLock {
  readonly name: string;
  #server: Server | undefined;

  constructor(name = 'lb-provisioner-proxy') {
    this.name = name;
  }

  async acquire(): Promise<void> {
    const path = `\0${this.name}`;
    const server = createServer((c) => c.end(String(process.pid)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRINUSE') return reject(err);
        void holderPid(path).then((pid) => reject(new HostLockedError(this.name, pid)));
      });
      server.listen({ path }, () => resolve());
    });
    server.unref();
    this.#server = server;
  }

  async release(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

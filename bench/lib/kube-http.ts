/**
 * A lean Kubernetes API client for the benchmark's own side (creating Services, watching them, the floor
 * client): JSON over one pooled undici Agent, no object model. Kept apart from client-node so the load
 * generator costs as little CPU as possible on the 2-core machine it shares with the controllers.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { parse } from 'yaml';

export class KubeHttpError extends Error {
  readonly status: number;
  readonly body: string;

  constructor(status: number, body: string, what: string) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 300)}`);
    this.name = 'KubeHttpError';
    this.status = status;
    this.body = body;
  }
}

export interface KubeHttpOptions {
  userAgent: string;
  /** connections to the apiserver at most */
  connections?: number;
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
  users?: {
    name: string;
    user: { token?: string; 'client-certificate-data'?: string; 'client-key-data'?: string };
  }[];
}

const b64 = (s: string | undefined): string | undefined => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface Watch {
  stop(): void;
}

export interface ObjectMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
}

export class KubeHttp {
  readonly server: string;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;

  constructor(
    server: string,
    tls: { ca?: string; cert?: string; key?: string },
    token: string | undefined,
    opts: KubeHttpOptions,
  ) {
    this.server = server.replace(/\/$/, '');
    this.agent = new Agent({
      connect: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) },
      connections: opts.connections ?? 32,
      // HTTP/1.1, as ours speaks (src/kube/client.ts): undici's HTTP/2 puts every request on one connection,
      // whose round trips in a burst were about three times the apiserver's own time
      allowH2: false,
      // watches stay open for minutes
      bodyTimeout: 0,
      headersTimeout: 60_000,
    });
    this.headers = {
      'user-agent': opts.userAgent,
      accept: 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
  }

  static fromKubeconfig(path: string, opts: KubeHttpOptions): KubeHttp {
    const kc = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
    const ctx = kc.contexts?.find((c) => c.name === kc['current-context'])?.context;
    const cluster = kc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
    const user = kc.users?.find((u) => u.name === ctx?.user)?.user;
    if (!cluster || !user) throw new Error(`${path}: no current context with a cluster and a user`);
    return new KubeHttp(
      cluster.server,
      {
        ca: b64(cluster['certificate-authority-data']),
        cert: b64(user['client-certificate-data']),
        key: b64(user['client-key-data']),
      },
      user.token,
      opts,
    );
  }

  /** A JSON request; throws KubeHttpError on a status >= 400 unless it is in `allow`. */
  async json<T = unknown>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    opts: { contentType?: string; allow?: number[] } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await request(`${this.server}${path}`, {
      dispatcher: this.agent,
      method,
      headers: {
        ...this.headers,
        ...(body === undefined ? {} : { 'content-type': opts.contentType ?? 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.body.text();
    if (res.statusCode >= 400 && !(opts.allow ?? []).includes(res.statusCode))
      throw new KubeHttpError(res.statusCode, text, `${method} ${path}`);
    return { status: res.statusCode, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /**
   * List, then watch from the list's resourceVersion; a watch the server ends is resumed, a 410 Gone
   * relists. onEvent sees every object of the list as ADDED. Resolves once the first watch is open.
   */
  async listWatch<T extends ObjectMeta>(path: string, onEvent: (e: WatchEvent<T>) => void): Promise<Watch> {
    let stopped = false;
    const controller = new AbortController();
    const list = async (): Promise<string> => {
      const { body } = await this.json<{ metadata: { resourceVersion: string }; items: T[] }>('GET', path);
      for (const item of body.items) onEvent({ type: 'ADDED', object: item });
      return body.metadata.resourceVersion;
    };
    const open = async (rv: string) => {
      const sep = path.includes('?') ? '&' : '?';
      return request(`${this.server}${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}`, {
        dispatcher: this.agent,
        method: 'GET',
        headers: this.headers,
        signal: controller.signal,
      });
    };
    let rv = await list();
    let res = await open(rv);
    const loop = async () => {
      while (!stopped) {
        let gone = res.statusCode === 410;
        if (res.statusCode === 200) {
          let pending = '';
          try {
            for await (const chunk of res.body) {
              pending += (chunk as Buffer).toString('utf8');
              let nl = pending.indexOf('\n');
              while (nl >= 0) {
                const line = pending.slice(0, nl);
                pending = pending.slice(nl + 1);
                nl = pending.indexOf('\n');
                if (!line) continue;
                const e = JSON.parse(line) as WatchEvent<T & { code?: number }>;
                if (e.type === 'ERROR') {
                  gone = e.object.code === 410;
                  continue;
                }
                const v = e.object.metadata?.resourceVersion;
                if (v) rv = v;
                if (e.type !== 'BOOKMARK') onEvent(e);
              }
            }
          } catch {
            // aborted, or the connection broke: resume below
          }
        } else {
          await res.body.text().catch(() => '');
        }
        if (stopped) return;
        try {
          if (gone) rv = await list();
          res = await open(rv);
        } catch {
          if (stopped) return;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    void loop();
    return {
      stop: () => {
        stopped = true;
        controller.abort();
      },
    };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Runs fn over items with at most `size` at a time. */
export async function inParallel<T>(
  items: readonly T[],
  size: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
    }),
  );
}

/** /metrics, /healthz and /readyz on one small HTTP server. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from '../metrics.ts';

export interface RunningServer {
  address: string;
  close(): Promise<void>;
}

export async function startHttpServer(
  bind: string,
  metrics: Pick<Metrics, 'registry'>,
  ready: () => boolean,
): Promise<RunningServer> {
  const at = bind.lastIndexOf(':');
  const host = bind.slice(0, at).replace(/^\[|\]$/g, '') || '0.0.0.0';
  const port = Number(bind.slice(at + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok' : 'caches not synced');
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    address: `${addr.address}:${addr.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

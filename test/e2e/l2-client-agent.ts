/**
 * An open-loop client for failover measurements, run in the client namespace (`node l2-client-agent.ts`,
 * speaking rpc.ts): one new-connection HTTP GET every `everyMs` whatever the earlier ones are doing, each
 * answer recorded with the wall-clock time it arrived and the node that served it.
 */
import { request } from 'node:http';
import { serveRpc } from '../netns/rpc.ts';

interface Answer {
  sentAt: number;
  doneAt: number;
  /** the serving node, or null for an error or timeout */
  node: string | null;
}

let timer: NodeJS.Timeout | undefined;
let answers: Answer[] = [];

function get(url: string, timeoutMs: number): void {
  const sentAt = Date.now();
  const done = (node: string | null): void => void answers.push({ sentAt, doneAt: Date.now(), node });
  const req = request(url, { agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
    let body = '';
    res.setEncoding('utf8').on('data', (d: string) => (body += d));
    res.on('end', () => {
      try {
        done((JSON.parse(body) as { node: string }).node);
      } catch {
        done(null);
      }
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => done(null));
  req.end();
}

serveRpc({
  start(a) {
    clearInterval(timer);
    answers = [];
    const url = a.url as string;
    const timeoutMs = (a.timeoutMs as number | undefined) ?? 1000;
    timer = setInterval(() => get(url, timeoutMs), (a.everyMs as number | undefined) ?? 10);
  },
  /** the answers so far (keeps going) */
  peek() {
    return answers;
  },
  stop() {
    clearInterval(timer);
    timer = undefined;
    return answers;
  },
});

/**
 * Does this speaker reach the apiserver? A GET /readyz every few seconds (allowed to every authenticated
 * identity by the default system:public-info-viewer role; one cheap read per node, whatever the number of
 * Services). Reachable until no probe has succeeded for `lostAfterMs`: one slow answer is not an outage.
 */
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface ProbeOptions {
  intervalMs: number;
  timeoutMs: number;
  lostAfterMs: number;
}

export class ApiserverProbe {
  readonly #kc: KubeConfig;
  readonly #options: ProbeOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<(reachable: boolean) => void>();
  #lastSuccess = Date.now();
  #reachable = true;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(kc: KubeConfig, options: ProbeOptions, log: Logger) {
    this.#kc = kc;
    this.#options = options;
    this.#log = log;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  onChange(listener: (reachable: boolean) => void): void {
    this.#listeners.add(listener);
  }

  start(): void {
    this.#stopped = false;
    this.#lastSuccess = Date.now();
    void this.#loop();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #loop(): Promise<void> {
    if (this.#stopped) return;
    const ok = await this.#probe().catch(() => false);
    const now = Date.now();
    if (ok) this.#lastSuccess = now;
    this.#set(ok || now - this.#lastSuccess < this.#options.lostAfterMs);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#loop(), this.#options.intervalMs);
    this.#timer.unref();
  }

  #set(reachable: boolean): void {
    if (reachable === this.#reachable) return;
    this.#reachable = reachable;
    if (reachable) this.#log.info('the apiserver is reachable again');
    else
      this.#log.warn(
        { lostAfterMs: this.#options.lostAfterMs },
        'the apiserver is unreachable: giving way to peers that reach it',
      );
    for (const listener of this.#listeners) listener(reachable);
  }

  async #probe(): Promise<boolean> {
    const server = this.#kc.getCurrentCluster()?.server;
    if (!server) return false;
    const url = new URL('/readyz', server);
    const options: RequestOptions = { method: 'GET', timeout: this.#options.timeoutMs };
    await this.#kc.applyToHTTPSOptions(options);
    return new Promise((resolve) => {
      const req = request(url, options, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(false));
      req.end();
    });
  }
}

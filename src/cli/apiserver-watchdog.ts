/**
 * Keeps `run` alive, and ends it when the apiserver has gone for good. The controller's own timers are
 * unref'd (they must not hold a stopping process), so without a handle of ours a controller whose watches
 * had all failed would find an empty event loop and exit 0 while its log said "restarting". With leader
 * election a leader already exits once it can't renew; this also covers `--no-leader-elect` and standbys.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { apiStatusCode, describeApiError } from '../kube/api-error.ts';
import { plainJson } from '../kube/plain-request.ts';

export interface WatchdogOptions {
  /** give up after this long without an answer; 0 never gives up (the handle still keeps the process alive) */
  timeoutMs: number;
  /** called once, with what the last probe saw */
  onGone: (lastError: string) => void;
}

export class ApiserverWatchdog {
  private readonly kc: KubeConfig;
  private readonly opts: WatchdogOptions;
  private readonly timer: NodeJS.Timeout;
  private lastAnswer = Date.now();
  private probing = false;
  private gone = false;

  constructor(kc: KubeConfig, opts: WatchdogOptions) {
    this.kc = kc;
    this.opts = opts;
    const every = opts.timeoutMs > 0 ? Math.min(10_000, Math.max(250, opts.timeoutMs / 4)) : 60_000;
    // ref'd on purpose: this is the handle that keeps the process up
    this.timer = setInterval(() => void this.probe(), every);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async probe(): Promise<void> {
    if (this.opts.timeoutMs <= 0 || this.probing || this.gone) return;
    this.probing = true;
    let failure: string | undefined;
    try {
      await plainJson(this.kc, 'GET', '/version', { signal: AbortSignal.timeout(Math.min(5000, this.opts.timeoutMs)) });
    } catch (err) {
      const code = apiStatusCode(err);
      // an answer of any kind but a 5xx or 429 means the apiserver is there
      if (code === undefined || code >= 500 || code === 429) failure = describeApiError(err);
    } finally {
      this.probing = false;
    }
    if (failure === undefined) {
      this.lastAnswer = Date.now();
      return;
    }
    if (Date.now() - this.lastAnswer >= this.opts.timeoutMs) {
      this.gone = true;
      this.opts.onGone(failure);
    }
  }
}

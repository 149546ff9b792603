/**
 * Active health checks, per Service and target, with the model's HealthCheck (port, path, interval,
 * timeout, thresholds). The first result decides a new target's state at once; after that a state flips only
 * after `threshold` results in a row, and while a flip is pending the next probe comes sooner (HAProxy's
 * `fastinter`), so at 1 s interval and a threshold of 2 a dead node leaves in about 1.3 s, not 2 s.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { DesiredLoadBalancer, HealthCheck, TargetNode } from '../../../src/model/desired.ts';

/**
 * The proxy data plane's default health-check timing: an unhealthy node leaves the rotation within 2 s.
 * A node that refuses is out after ~1.1 s (two failures, the second re-checked at interval/4); one that
 * silently drops packets costs each probe its timeout, so the timeout is short: at most 1 + 0.25 + 0.25 + 0.25 s.
 */
export const PROXY_HEALTH_TIMING = {
  intervalSeconds: 1,
  timeoutSeconds: 0.25,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

export interface ProbeSpec {
  protocol: HealthCheck['protocol'];
  address: string;
  port: number;
  path: string;
  timeoutMs: number;
}

export interface ProbeResult {
  ok: boolean;
  reason: string;
}

export type Prober = (p: ProbeSpec) => Promise<ProbeResult>;

export interface HealthTransition {
  service: string;
  target: string;
  /** which check: "HTTP :10256/healthz", "TCP :30080" */
  check: string;
  healthy: boolean;
  reason: string;
}

/** The real prober: an HTTP(S) GET expecting 2xx/3xx, or a TCP connect. */
export const networkProber: Prober = (p) =>
  new Promise((resolve) => {
    const done = (ok: boolean, reason: string): void => resolve({ ok, reason });
    if (p.protocol === 'TCP') {
      const s = connect({ host: p.address, port: p.port, timeout: p.timeoutMs });
      s.once('connect', () => {
        s.destroy();
        done(true, 'connected');
      });
      s.once('timeout', () => {
        s.destroy();
        done(false, `no connection within ${p.timeoutMs} ms`);
      });
      s.once('error', (err) => done(false, err.message));
      return;
    }
    const req = (p.protocol === 'HTTPS' ? httpsRequest : httpRequest)({
      host: p.address,
      port: p.port,
      path: p.path,
      method: 'GET',
      timeout: p.timeoutMs,
      agent: false,
      rejectUnauthorized: false,
      headers: { 'user-agent': 'lb-provisioner-health' },
    });
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      done(code >= 200 && code < 400, `HTTP ${code}`);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${p.timeoutMs} ms`)));
    req.once('error', (err) => done(false, err.message));
    req.end();
  });

interface CheckState {
  target: string;
  probe: ProbeSpec;
  healthy: boolean | undefined;
  streak: number;
  reason: string;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

interface ServiceChecks {
  spec: string;
  hc: HealthCheck;
  /** check id ('node' or 'port:<nodePort>') -> target name -> state */
  checks: Map<string, Map<string, CheckState>>;
  waiters: (() => void)[];
}

export interface HealthCheckerOptions {
  prober?: Prober;
  onTransition?: (t: HealthTransition) => void;
  /** the healthy set of a Service changed: its forwarding must be re-applied */
  onChange?: (service: string) => void;
}

function checkLabel(p: ProbeSpec): string {
  return p.protocol === 'TCP' ? `TCP :${p.port}` : `${p.protocol} :${p.port}${p.path}`;
}

function probeAddress(t: TargetNode): string | undefined {
  return t.addresses.find((a) => !a.includes(':')) ?? t.addresses[0];
}

export class HealthChecker {
  readonly #prober: Prober;
  readonly #onTransition: (t: HealthTransition) => void;
  readonly #onChange: (service: string) => void;
  readonly #services = new Map<string, ServiceChecks>();

  constructor(options: HealthCheckerOptions = {}) {
    this.#prober = options.prober ?? networkProber;
    this.#onTransition = options.onTransition ?? (() => {});
    this.#onChange = options.onChange ?? (() => {});
  }

  /** Which checks a Service needs: one per node, or one per TCP port when checking the traffic port. */
  static checkIds(lb: DesiredLoadBalancer): Map<string, number> {
    const ids = new Map<string, number>();
    if (lb.healthCheck.port !== 'traffic-port') ids.set('node', lb.healthCheck.port);
    else for (const p of lb.ports) if (p.protocol === 'TCP' && p.nodePort) ids.set(`port:${p.nodePort}`, p.nodePort);
    return ids;
  }

  setService(key: string, lb: DesiredLoadBalancer): void {
    const spec = JSON.stringify([lb.healthCheck, lb.ports]);
    let svc = this.#services.get(key);
    if (svc !== undefined && svc.spec !== spec) {
      this.removeService(key); // new port or timing: start over (the first result decides again at once)
      svc = undefined;
    }
    if (svc === undefined) {
      svc = { spec, hc: lb.healthCheck, checks: new Map(), waiters: [] };
      this.#services.set(key, svc);
    }
    const hc = lb.healthCheck;
    for (const [id, port] of HealthChecker.checkIds(lb)) {
      let byTarget = svc.checks.get(id);
      if (byTarget === undefined) svc.checks.set(id, (byTarget = new Map()));
      const wanted = new Set<string>();
      for (const t of lb.targets) {
        const address = probeAddress(t);
        if (address === undefined) continue;
        wanted.add(t.name);
        const cur = byTarget.get(t.name);
        if (cur !== undefined && cur.probe.address === address) continue;
        if (cur !== undefined) this.#stop(cur);
        const probe: ProbeSpec = {
          protocol: hc.protocol,
          address,
          port,
          path: hc.path ?? '/healthz',
          timeoutMs: Math.min(hc.timeoutSeconds, hc.intervalSeconds) * 1000,
        };
        const state: CheckState = {
          target: t.name,
          probe,
          healthy: undefined,
          streak: 0,
          reason: '',
          timer: undefined,
          stopped: false,
        };
        byTarget.set(t.name, state);
        void this.#run(key, svc, state);
      }
      for (const [name, st] of byTarget) {
        if (wanted.has(name)) continue;
        this.#stop(st);
        byTarget.delete(name);
      }
    }
  }

  removeService(key: string): void {
    const svc = this.#services.get(key);
    if (svc === undefined) return;
    for (const byTarget of svc.checks.values()) for (const st of byTarget.values()) this.#stop(st);
    for (const w of svc.waiters) w();
    this.#services.delete(key);
  }

  /** Healthy targets for a check id; undefined state (not probed yet) counts as healthy. */
  healthy(key: string, checkId: string): Set<string> {
    const out = new Set<string>();
    for (const st of this.#services.get(key)?.checks.get(checkId)?.values() ?? []) {
      if (st.healthy !== false) out.add(st.target);
    }
    return out;
  }

  /** The last reason per target of one check (for status). */
  reasons(key: string, checkId: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const st of this.#services.get(key)?.checks.get(checkId)?.values() ?? []) out.set(st.target, st.reason);
    return out;
  }

  /** Resolves once every target of the Service has a first result, or after `timeoutMs`. */
  firstRound(key: string, timeoutMs: number): Promise<void> {
    const svc = this.#services.get(key);
    if (svc === undefined || this.#decided(svc)) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      svc.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  close(): void {
    for (const key of [...this.#services.keys()]) this.removeService(key);
  }

  #decided(svc: ServiceChecks): boolean {
    for (const byTarget of svc.checks.values())
      for (const st of byTarget.values()) if (st.healthy === undefined) return false;
    return true;
  }

  #stop(st: CheckState): void {
    st.stopped = true;
    if (st.timer !== undefined) clearTimeout(st.timer);
  }

  async #run(key: string, svc: ServiceChecks, st: CheckState): Promise<void> {
    if (st.stopped) return;
    const started = Date.now();
    const result = await this.#prober(st.probe);
    if (st.stopped) return;
    st.reason = result.reason;
    const hc = svc.hc;
    let changed = false;
    if (st.healthy === undefined) {
      st.healthy = result.ok;
      changed = true;
      if (!result.ok) this.#emit(key, st, result.reason);
      if (this.#decided(svc)) for (const w of svc.waiters.splice(0)) w();
    } else if (result.ok === st.healthy) {
      st.streak = 0;
    } else if (++st.streak >= (result.ok ? hc.healthyThreshold : hc.unhealthyThreshold)) {
      st.healthy = result.ok;
      st.streak = 0;
      changed = true;
      this.#emit(key, st, result.reason);
    }
    if (changed) this.#onChange(key);
    const interval = hc.intervalSeconds * 1000;
    const delay = st.streak > 0 ? Math.max(100, interval / 4) : interval - (Date.now() - started);
    st.timer = setTimeout(() => void this.#run(key, svc, st), Math.max(0, delay));
  }

  #emit(key: string, st: CheckState, reason: string): void {
    this.#onTransition({
      service: key,
      target: st.target,
      check: checkLabel(st.probe),
      healthy: st.healthy === true,
      reason,
    });
  }
}

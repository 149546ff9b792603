/**
 * Turns "this node announces these VIPs on these interfaces" into responders: one per interface in use,
 * each given its set of addresses at once (a VIP this node no longer holds stops being answered in the same
 * call), and for every VIP newly taken, gratuitous ARP / unsolicited neighbour advertisements spread over
 * 2.2 s, so neighbours that ignored one (Linux ignores non-gratuitous updates within its 1 s neighbour
 * locktime; other stacks have their own windows, and packets get lost) still learn the new holder.
 */
import type { Logger } from 'pino';
import type { ResponderStats } from './responder.ts';

/** Offsets (ms) of the announcements sent after a takeover. */
export const ANNOUNCE_SCHEDULE_MS: readonly number[] = [0, 300, 1100, 2200];

export interface LocalAnnouncement {
  ip: string;
  /** resolved interface names on this node */
  interfaces: readonly string[];
}

/** What the announcer needs of a responder (LinkResponder; a fake in unit tests). */
export interface Responder {
  readonly interface: string;
  setAddresses(ips: readonly string[]): void;
  announce(ip: string): void;
  stats(): ResponderStats;
  close(): void;
}

export interface AnnouncerOptions {
  open(ifname: string): Responder;
  log: Logger;
  schedule?: readonly number[];
  /** counts each gratuitous ARP / unsolicited NA sent */
  onAnnounce?(ip: string, ifname: string): void;
}

export interface ApplyResult {
  /** VIPs this node started announcing */
  added: string[];
  /** VIPs it stopped announcing */
  removed: string[];
  /** interfaces that could not be opened (missing, not Ethernet, no CAP_NET_RAW), with the reason */
  failed: { interface: string; error: string }[];
}

export class Announcer {
  readonly #options: AnnouncerOptions;
  readonly #schedule: readonly number[];
  readonly #responders = new Map<string, Responder>();
  /** ip -> interfaces it is answered on */
  readonly #current = new Map<string, Set<string>>();
  /** `ip@ifname` -> pending announcement timers */
  readonly #timers = new Map<string, NodeJS.Timeout[]>();

  constructor(options: AnnouncerOptions) {
    this.#options = options;
    this.#schedule = options.schedule ?? ANNOUNCE_SCHEDULE_MS;
  }

  apply(desired: readonly LocalAnnouncement[]): ApplyResult {
    const result: ApplyResult = { added: [], removed: [], failed: [] };
    const wanted = new Map<string, Set<string>>();
    for (const { ip, interfaces } of desired) {
      const on = new Set<string>();
      for (const ifname of interfaces) {
        const opened = this.#responder(ifname, result);
        if (opened) on.add(ifname);
      }
      if (on.size > 0) wanted.set(ip, on);
    }
    // the sets first: a VIP that moved away is no longer answered from here before anything else happens
    const byInterface = new Map<string, string[]>();
    for (const [ip, on] of wanted)
      for (const ifname of on) byInterface.set(ifname, [...(byInterface.get(ifname) ?? []), ip]);
    for (const [ifname, responder] of this.#responders) responder.setAddresses(byInterface.get(ifname) ?? []);

    for (const [ip, on] of this.#current) {
      for (const ifname of on) if (!wanted.get(ip)?.has(ifname)) this.#cancel(ip, ifname);
      if (!wanted.has(ip)) result.removed.push(ip);
    }
    for (const [ip, on] of wanted) {
      const before = this.#current.get(ip);
      for (const ifname of on) if (!before?.has(ifname)) this.#announce(ip, ifname);
      if (!before) result.added.push(ip);
    }
    this.#current.clear();
    for (const [ip, on] of wanted) this.#current.set(ip, on);
    for (const [ifname, responder] of this.#responders) {
      if (byInterface.has(ifname)) continue;
      responder.close();
      this.#responders.delete(ifname);
    }
    return result;
  }

  /** The VIPs answered now, with their interfaces. */
  announced(): Map<string, string[]> {
    return new Map([...this.#current].map(([ip, on]) => [ip, [...on].sort()]));
  }

  /** Summed counters of the open responders. */
  stats(): Record<string, ResponderStats> {
    return Object.fromEntries([...this.#responders].map(([ifname, r]) => [ifname, r.stats()]));
  }

  /** Stops answering everything at once (shutdown). */
  close(): void {
    for (const timers of this.#timers.values()) timers.forEach(clearTimeout);
    this.#timers.clear();
    for (const responder of this.#responders.values()) {
      responder.setAddresses([]);
      responder.close();
    }
    this.#responders.clear();
    this.#current.clear();
  }

  #responder(ifname: string, result: ApplyResult): Responder | undefined {
    const existing = this.#responders.get(ifname);
    if (existing) return existing;
    try {
      const responder = this.#options.open(ifname);
      this.#responders.set(ifname, responder);
      return responder;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      if (!result.failed.some((f) => f.interface === ifname)) result.failed.push({ interface: ifname, error });
      return undefined;
    }
  }

  #announce(ip: string, ifname: string): void {
    const key = `${ip}@${ifname}`;
    this.#cancel(ip, ifname);
    const timers = this.#schedule.map((offset) => {
      const timer = setTimeout(() => {
        const responder = this.#responders.get(ifname);
        if (!responder || !this.#current.get(ip)?.has(ifname)) return;
        responder.announce(ip);
        this.#options.onAnnounce?.(ip, ifname);
      }, offset);
      timer.unref();
      return timer;
    });
    this.#timers.set(key, timers);
  }

  #cancel(ip: string, ifname: string): void {
    const key = `${ip}@${ifname}`;
    this.#timers.get(key)?.forEach(clearTimeout);
    this.#timers.delete(key);
  }
}

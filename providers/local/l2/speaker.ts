/**
 * The L2 speaker: one per node. It wires the cluster view (kube-inputs), the heartbeat membership, the
 * election and the announcer together; every decision is made by the pure functions it calls.
 *
 * Start: caches synced, then heartbeats (not ready), then one heartbeat timeout of listening, so it knows
 * who holds what before it claims anything; then ready. Stop (SIGTERM): a goodbye heartbeat, and it stops
 * answering at once; the peers take over on the goodbye instead of waiting for the timeout.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ApiserverProbe } from './apiserver-probe.ts';
import { Announcer, type LocalAnnouncement, type Responder } from './announcer.ts';
import { electAnnouncers, type Member, type VipDecision } from './election.ts';
import { HeartbeatSocket } from './heartbeat.ts';
import { localInterfaces, resolveInterfaces } from './interfaces.ts';
import { KubeInputs, type NodeInfo } from './kube-inputs.ts';
import { Membership, type Heartbeat } from './membership.ts';
import { LinkResponder } from './responder.ts';
import type { SpeakerMetrics } from './speaker-metrics.ts';
import { StatusWriter } from './status-writer.ts';

export interface SpeakerOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  heartbeatPort: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  heartbeatKey?: Buffer;
  /** the apiserver counts as lost after this long without a successful probe */
  apiserverTimeoutMs: number;
  log: Logger;
  metrics: SpeakerMetrics;
  /** the responder per interface (the native one by default) */
  openResponder?: (ifname: string) => Responder;
}

/** A full recompute this often whatever happens: retries failed status writes, sees new interfaces. */
const RESYNC_MS = 5000;

export class Speaker {
  readonly #o: SpeakerOptions;
  readonly #log: Logger;
  readonly #inputs: KubeInputs;
  readonly #membership: Membership;
  readonly #heartbeats: HeartbeatSocket;
  readonly #probe: ApiserverProbe;
  readonly #announcer: Announcer;
  readonly #status: StatusWriter;
  readonly #incarnation = Date.now();
  #seq = 0;
  #ready = false;
  #stopped = false;
  #ticker: NodeJS.Timeout | undefined;
  #resync: NodeJS.Timeout | undefined;
  #recomputeQueued = false;
  #interfaces: Record<string, string[]> = {};
  #decisions = new Map<string, VipDecision>();
  #wasIsolated = false;
  #failedInterfaces = '';

  constructor(options: SpeakerOptions) {
    this.#o = options;
    this.#log = options.log.child({ node: options.nodeName });
    this.#inputs = new KubeInputs(options.kubeConfig, this.#log, () => this.#queueRecompute());
    this.#membership = new Membership(options.nodeName, options.heartbeatTimeoutMs);
    this.#heartbeats = new HeartbeatSocket({
      port: options.heartbeatPort,
      ...(options.heartbeatKey ? { key: options.heartbeatKey } : {}),
      onHeartbeat: (hb, from) => this.#heard(hb, from),
      onDropped: (reason) => options.metrics.heartbeats.inc({ result: reason }),
    });
    this.#probe = new ApiserverProbe(
      options.kubeConfig,
      { intervalMs: 2000, timeoutMs: 2000, lostAfterMs: options.apiserverTimeoutMs },
      this.#log,
    );
    this.#probe.onChange((reachable) => {
      options.metrics.apiserver.set(reachable ? 1 : 0);
      this.#queueRecompute();
    });
    this.#announcer = new Announcer({
      open: options.openResponder ?? ((ifname) => LinkResponder.open(ifname)),
      log: this.#log,
      onAnnounce: (ip) => options.metrics.gratuitous.inc({ family: ip.includes(':') ? 'IPv6' : 'IPv4' }),
    });
    this.#status = new StatusWriter(options.kubeConfig, options.nodeName, this.#log);
  }

  async start(): Promise<void> {
    this.#interfaces = localInterfaces();
    this.#o.metrics.apiserver.set(1);
    await this.#heartbeats.start();
    this.#probe.start();
    await this.#inputs.start();
    if (this.#stopped) return;
    this.#ticker = setInterval(() => this.#tick(), this.#o.heartbeatIntervalMs);
    this.#tick();
    // listen for one timeout before claiming anything: the peers' heartbeats say who is alive
    await new Promise((resolve) => setTimeout(resolve, this.#o.heartbeatTimeoutMs));
    if (this.#stopped) return;
    this.#ready = true;
    this.#resync = setInterval(() => {
      this.#interfaces = localInterfaces();
      this.#queueRecompute();
    }, RESYNC_MS);
    this.#resync.unref();
    this.#log.info(
      { peers: this.#membership.alivePeers(), heartbeatPort: this.#o.heartbeatPort },
      'speaker ready: announcing the VIPs this node is elected for',
    );
    this.#tick();
    this.#recompute();
  }

  /** Clean shutdown: a goodbye, then no more answers; peers take over on the goodbye. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#ticker);
    clearInterval(this.#resync);
    // twice: one lost datagram must not cost the peers a heartbeat timeout; sent before the socket closes
    const goodbyes = Promise.all([this.#sendHeartbeat(true), this.#sendHeartbeat(true)]);
    const held = [...this.#announcer.announced().keys()];
    this.#announcer.close();
    await goodbyes;
    this.#log.info({ released: held }, 'speaker stopping: said goodbye and stopped answering');
    this.#probe.stop();
    await this.#heartbeats.close();
    await this.#inputs.stop();
  }

  /** The decisions as this speaker last computed them (tests, debugging). */
  decisions(): ReadonlyMap<string, VipDecision> {
    return this.#decisions;
  }

  #tick(): void {
    void this.#sendHeartbeat(false);
    // after the I/O phase: heartbeats queued while this process was busy count before anyone is expired
    setImmediate(() => {
      const gone = this.#membership.expire(Date.now());
      if (gone.length > 0) {
        this.#log.info({ peers: gone }, 'peers silent for longer than the heartbeat timeout');
        this.#queueRecompute();
      }
      if (this.#membership.isolated !== this.#wasIsolated) this.#queueRecompute();
    });
  }

  #sendHeartbeat(leaving: boolean): Promise<void> {
    const hb: Heartbeat = {
      node: this.#o.nodeName,
      incarnation: this.#incarnation,
      seq: ++this.#seq,
      ready: this.#ready && !leaving,
      apiserver: this.#probe.reachable,
      leaving,
      interfaces: Object.keys(this.#interfaces).sort(),
    };
    const peers = [...this.#inputs.nodeInfos().values()]
      .filter((n) => n.name !== this.#o.nodeName && n.addresses.length > 0)
      .map((n) => n.addresses[0]!);
    return this.#heartbeats.send(hb, peers);
  }

  #heard(hb: Heartbeat, from: string): void {
    const node = this.#inputs.nodes.get(hb.node);
    const addresses = node?.status?.addresses?.map((a) => a.address) ?? [];
    // the sender must be the node it claims to be (one of that Node's addresses)
    if (!addresses.includes(from)) {
      this.#o.metrics.heartbeats.inc({ result: 'unknown_sender' });
      return;
    }
    const result = this.#membership.heard(hb, Date.now());
    this.#o.metrics.heartbeats.inc({ result: result === 'stale' ? 'stale' : 'ok' });
    if (result === 'left') this.#log.info({ peer: hb.node }, 'peer said goodbye: taking over its VIPs now');
    if (result === 'joined') this.#log.info({ peer: hb.node, ready: hb.ready }, 'peer heard');
    if (result !== 'same' && result !== 'stale') this.#queueRecompute();
  }

  #queueRecompute(): void {
    if (this.#recomputeQueued || this.#stopped) return;
    this.#recomputeQueued = true;
    setImmediate(() => {
      this.#recomputeQueued = false;
      this.#recompute();
    });
  }

  #recompute(): void {
    if (!this.#ready || this.#stopped) return;
    const nodes = this.#inputs.nodeInfos();
    for (const peer of this.#membership.expectedPeers()) {
      const info = nodes.get(peer);
      if (!info?.ready) this.#membership.forget(peer);
    }
    const isolated = this.#membership.isolated;
    if (isolated !== this.#wasIsolated) {
      if (isolated)
        this.#log.warn({ expected: this.#membership.expectedPeers() }, 'hearing none of our peers: announcing nothing');
      else this.#log.info({ peers: this.#membership.alivePeers() }, 'hearing peers again');
      this.#wasIsolated = isolated;
    }
    const members: Member[] = isolated ? [] : this.#members(nodes);
    const { valid, invalid } = this.#inputs.readAdvertisements();
    this.#decisions = electAnnouncers({
      services: this.#inputs.announcedServices(),
      nodes,
      advertisements: valid,
      members,
    });
    const self = nodes.get(this.#o.nodeName);
    const desired: LocalAnnouncement[] = [...this.#decisions.values()]
      .filter((d) => d.holder === this.#o.nodeName)
      .map((d) => ({
        ip: d.ip,
        interfaces: resolveInterfaces(d.ip, d.announceOn, this.#interfaces, self?.addresses ?? []),
      }));
    for (const d of desired)
      if (d.interfaces.length === 0)
        this.#log.warn({ vip: d.ip }, 'elected for a VIP but no interface of this node is on its subnet');
    this.#apply(desired);
    this.#publish(members, isolated);
    if (!isolated && this.#probe.reachable)
      this.#status.sync({
        decisions: this.#decisions,
        members: members.map((m) => m.node),
        interfacesOf: (ip) => this.#announcer.announced().get(ip) ?? [],
        announcements: this.#inputs.announcements.list(),
        advertisements: this.#inputs.advertisements.list(),
        invalidAdvertisements: new Map(invalid.map((i) => [i.name, i.message])),
      });
  }

  #members(nodes: ReadonlyMap<string, NodeInfo>): Member[] {
    const self: Member = {
      node: this.#o.nodeName,
      apiserver: this.#probe.reachable,
      interfaces: Object.keys(this.#interfaces),
    };
    const peers = this.#membership
      .readyPeers()
      .filter((p) => nodes.has(p.node))
      .map((p) => ({ node: p.node, apiserver: p.apiserver, interfaces: p.interfaces }));
    return [self, ...peers];
  }

  #apply(desired: LocalAnnouncement[]): void {
    const result = this.#announcer.apply(desired);
    for (const ip of result.added) {
      const d = this.#decisions.get(ip);
      this.#log.info({ vip: ip, interfaces: this.#announcer.announced().get(ip), services: d?.services }, 'announcing');
      this.#o.metrics.takeovers.inc();
    }
    for (const ip of result.removed) {
      const d = this.#decisions.get(ip);
      this.#log.info({ vip: ip, holder: d?.holder ?? null, why: d?.why }, 'stopped announcing');
      this.#o.metrics.releases.inc();
    }
    const failed = JSON.stringify(result.failed);
    if (result.failed.length > 0 && failed !== this.#failedInterfaces)
      this.#log.error({ failed: result.failed }, 'cannot answer ARP/NDP on these interfaces');
    this.#failedInterfaces = failed;
  }

  #publish(members: Member[], isolated: boolean): void {
    const m = this.#o.metrics;
    m.announced.set(this.#announcer.announced().size);
    m.isolated.set(isolated ? 1 : 0);
    m.peers.set({ state: 'alive' }, this.#membership.alivePeers().length);
    m.peers.set({ state: 'expected' }, this.#membership.expectedPeers().length);
    m.electionMembers.set(members.length);
    const held = [...this.#decisions.values()].filter((d) => d.holder !== null).length;
    m.electionVips.set({ state: 'held' }, held);
    m.electionVips.set({ state: 'unheld' }, this.#decisions.size - held);
    const stats = Object.values(this.#announcer.stats());
    m.conflicts.set(stats.reduce((n, s) => n + s.conflicts, 0));
    m.answered.set(
      { kind: 'arp' },
      stats.reduce((n, s) => n + s.arpReplies, 0),
    );
    m.answered.set(
      { kind: 'ndp' },
      stats.reduce((n, s) => n + s.ndAdvertisements, 0),
    );
  }
}

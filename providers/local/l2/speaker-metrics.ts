/** The speaker's metrics (its own registry): announcements, takeovers, heartbeat peers and election inputs. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class SpeakerMetrics {
  readonly registry = new Registry();
  readonly announced = new Gauge({
    name: 'lbprovisioner_speaker_announced_vips',
    help: 'VIPs this node answers ARP/NDP for',
    registers: [this.registry],
  });
  readonly takeovers = new Counter({
    name: 'lbprovisioner_speaker_takeovers_total',
    help: 'VIPs this node started announcing (a takeover, or a new Service)',
    registers: [this.registry],
  });
  readonly releases = new Counter({
    name: 'lbprovisioner_speaker_releases_total',
    help: 'VIPs this node stopped announcing',
    registers: [this.registry],
  });
  readonly gratuitous = new Counter({
    name: 'lbprovisioner_speaker_gratuitous_sent_total',
    help: 'Gratuitous ARPs and unsolicited neighbour advertisements sent, by family',
    labelNames: ['family'] as const,
    registers: [this.registry],
  });
  readonly peers = new Gauge({
    name: 'lbprovisioner_speaker_heartbeat_peers',
    help: 'Peers whose heartbeats arrive within the timeout, and peers expected (heard before, not gone)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly heartbeats = new Counter({
    name: 'lbprovisioner_speaker_heartbeats_received_total',
    help: 'Heartbeat datagrams received, by result (ok, stale, malformed, signature, unknown_sender)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly isolated = new Gauge({
    name: 'lbprovisioner_speaker_isolated',
    help: '1 while this speaker had peers and hears none: it announces nothing',
    registers: [this.registry],
  });
  readonly apiserver = new Gauge({
    name: 'lbprovisioner_speaker_apiserver_reachable',
    help: '1 while this speaker reaches the apiserver',
    registers: [this.registry],
  });
  readonly electionVips = new Gauge({
    name: 'lbprovisioner_speaker_election_vips',
    help: 'VIPs in the election, by whether some node announces them (held) or none may (unheld)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly electionMembers = new Gauge({
    name: 'lbprovisioner_speaker_election_members',
    help: 'Speakers that may announce (alive and ready, this one included) as this speaker sees them',
    registers: [this.registry],
  });
  readonly conflicts = new Gauge({
    name: 'lbprovisioner_speaker_arp_conflicts',
    help: 'Times another host claimed an address this node announces (gratuitous ARP or reply), since start',
    registers: [this.registry],
  });
  readonly answered = new Gauge({
    name: 'lbprovisioner_speaker_answers',
    help: 'ARP replies and neighbour advertisements sent for held VIPs, since start, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}

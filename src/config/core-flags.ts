/** The flags of `lb-provisioner run` that every provider shares. A provider's own flags are in its descriptor. */
import { DEFAULT_NODE_SYNC_CONCURRENCY } from '../controller/queue.ts';
import type { FlagSpec } from './flag-spec.ts';

export function coreFlags(providerNames: readonly string[], env: NodeJS.ProcessEnv = process.env): FlagSpec[] {
  return [
    {
      flags: '--kubeconfig <path>',
      env: 'KUBECONFIG',
      documentedDefault: 'in-cluster',
      description: 'kubeconfig file (the in-cluster config when absent)',
    },
    {
      flags: '--provider <name>',
      env: 'LBP_PROVIDERS',
      list: true,
      documentedDefault: '(required)',
      description: `provider to run: ${providerNames.join(', ')}; repeatable or comma-separated`,
    },
    {
      flags: '--default-provider <name>',
      documentedDefault: 'the first `--provider`',
      description: 'provider for Services without a loadBalancerClass; "" for none',
    },
    {
      flags: '--class-only',
      description: 'only take Services whose loadBalancerClass is lbprovisioner.io/<provider>',
    },
    {
      flags: '--cluster-name <name>',
      default: 'kubernetes',
      description: 'cluster name, used in cloud resource names and ownership tags',
    },
    {
      flags: '--workers <n>',
      default: '8',
      description: 'concurrent Service syncs',
    },
    {
      flags: '--node-sync-concurrency <n>',
      default: String(DEFAULT_NODE_SYNC_CONCURRENCY),
      description:
        "concurrent targets-only syncs after a node change, beside --workers (the provider's own rate limits pace them)",
    },
    {
      flags: '--resync-period <duration>',
      default: '10m',
      description: 'drift pass: re-ensure every owned Service this often, jittered ±10%; 0 disables',
    },
    {
      flags: '--no-leader-elect',
      documentedDefault: 'elect',
      description: 'run without leader election (a single replica)',
    },
    {
      flags: '--leader-elect-namespace <ns>',
      default: env['POD_NAMESPACE'] ?? 'lb-provisioner',
      documentedDefault: '`$POD_NAMESPACE` or `lb-provisioner`',
      description: 'namespace of the leader Lease; created when missing and the credentials may',
    },
    { flags: '--leader-elect-name <name>', default: 'lb-provisioner', description: 'name of the leader Lease' },
    {
      flags: '--leader-elect-identity <id>',
      documentedDefault: '`hostname_pid`',
      description: "this replica's identity in the Lease",
    },
    {
      flags: '--leader-elect-lease-duration <duration>',
      default: '15s',
      description: 'how long a lease is valid without renewal',
    },
    {
      flags: '--leader-elect-renew-deadline <duration>',
      default: '10s',
      description: 'a leader that cannot renew within this stops writing at once and exits',
    },
    {
      flags: '--leader-elect-retry-period <duration>',
      default: '2s',
      description: 'time between acquire or renew attempts',
    },
    {
      flags: '--metrics-bind-address <host:port>',
      default: '127.0.0.1:8080',
      description: 'serve /metrics, /healthz and /readyz here; 0 disables',
    },
    {
      flags: '--log-level <level>',
      default: 'info',
      description: 'trace, debug, info, warn, error; pino JSON lines, credentials redacted',
    },
    {
      flags: '--apiserver-timeout <duration>',
      default: '60s',
      description: 'exit 1 when the apiserver has not answered for this long, at start or later; 0 waits forever',
    },
    {
      flags: '--node-port-range <from-to>',
      default: '30000-32767',
      description: "the apiserver's --service-node-port-range: cloud firewall rules for the nodes admit it",
    },
  ];
}

/** The command line: `lb-provisioner run | dev-cluster | demo`. */
import { Command, Option } from 'commander';
import { ConfigError, PROVIDER_NAMES, parseRunConfig, type RawRunOptions } from '../config/config.ts';
import { azureFlagOptions } from '../../providers/azure/flags.ts';

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Every flag also reads LBP_<FLAG_NAME> from the environment. */
function opt(flags: string, description: string): Option {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1] ?? '';
  return new Option(flags, description).env(`LBP_${long.replace(/-/g, '_').toUpperCase()}`);
}

export function buildProgram(): Command {
  const program = new Command('lb-provisioner')
    .description(
      'Gives every Service of type LoadBalancer a real load balancer (AWS NLB, Azure, or a local MetalLB-like provider).',
    )
    .showHelpAfterError();

  program
    .command('run')
    .description('run the service controller')
    .addOption(opt('--kubeconfig <path>', 'kubeconfig file (in-cluster config when absent)').env('KUBECONFIG'))
    .addOption(
      opt('--provider <name>', `provider to run, repeatable or comma-separated (${PROVIDER_NAMES.join(', ')})`)
        .argParser(collect)
        .env('LBP_PROVIDERS'),
    )
    .addOption(
      opt(
        '--default-provider <name>',
        'provider for Services without a loadBalancerClass (default: the first --provider; "" for none)',
      ),
    )
    .addOption(
      opt('--class-only', 'only take Services whose loadBalancerClass is lbprovisioner.io/<provider>').default(false),
    )
    .addOption(
      opt('--cluster-name <name>', 'cluster name, used in cloud resource names and ownership tags').default(
        'kubernetes',
      ),
    )
    .addOption(opt('--workers <n>', 'concurrent Service syncs').default('8'))
    .addOption(
      opt(
        '--resync-period <duration>',
        'drift pass: re-ensure every owned Service this often, jittered (0 disables)',
      ).default('10m'),
    )
    .addOption(opt('--no-leader-elect', 'run without leader election (a single replica)'))
    .addOption(
      opt('--leader-elect-namespace <ns>', 'namespace of the leader Lease').default(
        process.env['POD_NAMESPACE'] ?? 'lb-provisioner',
      ),
    )
    .addOption(opt('--leader-elect-name <name>', 'name of the leader Lease').default('lb-provisioner'))
    .addOption(opt('--leader-elect-identity <id>', "this replica's identity in the Lease (default: hostname_pid)"))
    .addOption(
      opt('--leader-elect-lease-duration <duration>', 'how long a lease is valid without renewal').default('15s'),
    )
    .addOption(
      opt('--leader-elect-renew-deadline <duration>', 'a leader that cannot renew within this steps down').default(
        '10s',
      ),
    )
    .addOption(opt('--leader-elect-retry-period <duration>', 'time between acquire or renew attempts').default('2s'))
    .addOption(
      opt('--metrics-bind-address <host:port>', 'serve /metrics, /healthz and /readyz here (0 disables)').default(
        '127.0.0.1:8080',
      ),
    )
    .addOption(opt('--log-level <level>', 'trace, debug, info, warn, error').default('info'))
    .addOption(
      opt('--pool <cidr>', 'local provider: an address pool (CIDR or start-end), repeatable; IPPool objects add more')
        .argParser(collect)
        .default([]),
    )
    .addOption(
      opt(
        '--dataplane <mode>',
        'local provider: none (addresses only) or proxy (forward VIP:port to NodePorts on this host)',
      ).default('none'),
    )
    .addOption(
      opt(
        '--proxy-backend <name>',
        'proxy data plane: auto (nftables when it can be programmed, else userspace), nftables or userspace',
      ).default('auto'),
    )
    .addOption(
      opt(
        '--vip-interface <name>',
        'proxy data plane: the interface the VIPs go on (created if missing; lo for the userspace back end in dev)',
      ).default('lbp0'),
    )
    .addOption(opt('--aws-region <region>', 'aws provider: region (default: the SDK chain, AWS_REGION)'))
    .addOption(opt('--aws-endpoint <url>', 'aws provider: ELBv2 and EC2 endpoint (moto, private endpoints)'))
    .addOption(
      opt(
        '--node-port-range <from-to>',
        "the apiserver's --service-node-port-range: cloud firewall rules for the nodes admit it",
      ).default('30000-32767'),
    )
    .addOption(opt('--no-aws-adopt', 'aws provider: do not adopt NLBs tagged for the same cluster and Service'))
    .addOption(opt('--no-aws-quota-precheck', 'aws provider: skip the DescribeAccountLimits check before creating'))
    .action(async (raw: RawRunOptions) => {
      const config = parseRunConfig({ ...raw, provider: raw.provider ?? [] });
      const { runController } = await import('./run.ts');
      await runController(config);
    });

  const run = program.commands.find((c) => c.name() === 'run')!;
  for (const o of azureFlagOptions()) run.addOption(o);

  program
    .command('dev-cluster')
    .description('run a local kube-apiserver + etcd (built from the Go module proxy on first use) until interrupted')
    .requiredOption('--kubeconfig-out <path>', 'write the admin kubeconfig here')
    .action(async (o: { kubeconfigOut: string }) => {
      const { runDevCluster } = await import('./dev-cluster.ts');
      await runDevCluster({ kubeconfigOut: o.kubeconfigOut, log: (line) => console.error(line) });
    });

  program
    .command('demo')
    .description('start a dev control plane, the controller with the local provider, and sample Services')
    .option('--kubeconfig-out <path>', 'write the admin kubeconfig here', '/tmp/lb-provisioner-demo.kubeconfig')
    .action(async (o: { kubeconfigOut: string }) => {
      const { runDemo } = await import('./demo.ts');
      await runDemo({ kubeconfigOut: o.kubeconfigOut });
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if ((err as Error)?.name === 'ConfigError' || err instanceof ConfigError) {
      console.error(`lb-provisioner: invalid configuration:\n${(err as Error).message}`);
      process.exit(2);
    }
    console.error(`lb-provisioner: ${(err as Error)?.stack ?? String(err)}`);
    process.exit(1);
  }
}

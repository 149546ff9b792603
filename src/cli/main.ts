/** The command line: `lb-provisioner run | dev-cluster | demo`. */
import { Command } from 'commander';
import { ConfigError, parseRunConfig } from '../config/config.ts';
import { runFlags, toOption } from './options.ts';

export function buildProgram(): Command {
  const program = new Command('lb-provisioner')
    .description(
      'Gives every Service of type LoadBalancer a real load balancer (AWS NLB, Azure, or a local MetalLB-like provider).',
    )
    .showHelpAfterError();

  const run = program.command('run').description('run the service controller');
  for (const { spec, provider } of runFlags()) run.addOption(toOption(spec, provider));
  run.action(async (raw: Record<string, unknown>, command: Command) => {
    const config = parseRunConfig(raw, (key) => command.getOptionValueSource(key));
    const { runController } = await import('./run.ts');
    await runController(config);
  });

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

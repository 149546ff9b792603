/**
 * The command line: `lb-provisioner run | doctor | plan | status | cleanup | dev-cluster | demo`. Exit codes: 0 for a clean stop
 * or --help; 2 when the user must change something (an unknown command or flag, a bad value, a condition
 * the message names the fix for); 1 when the process fails at run time.
 */
import { Command, CommanderError, Option } from 'commander';
import { parseRunConfig, type Config } from '../config/config.ts';
import { applyBooleanEnv } from '../config/boolean-env.ts';
import { ConfigError } from '../config/errors.ts';
import { RunFailure, UserFixableError } from './exit-errors.ts';
import { runFlags, toOption } from './options.ts';
import { registerSpeakerCommand, runL2Demo } from '../../providers/local/index.ts';
import { OPERATOR_COMMANDS, registerOperatorCommands } from './operate.ts';
import type { Output } from './output.ts';

export interface Commands {
  run(config: Config): Promise<void>;
  devCluster(o: { kubeconfigOut: string }): Promise<void>;
  demo(o: { kubeconfigOut: string }): Promise<void>;
  cleanup(o: { vipInterface?: string }): Promise<void>;
}

const defaultCommands: Commands = {
  run: async (config) => (await import('./run.ts')).runController(config),
  devCluster: async (o) =>
    (await import('./dev-cluster.ts')).runDevCluster({ ...o, log: (line) => process.stderr.write(`${line}\n`) }),
  demo: async (o) => (await import('./demo.ts')).runDemo(o),
  cleanup: async (o) => (await import('./cleanup.ts')).runCleanup(o, (line) => process.stdout.write(`${line}\n`)),
};

export type { Output } from './output.ts';

const stdio: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

export function buildProgram(commands: Partial<Commands> = {}, output: Output = stdio): Command {
  const act = { ...defaultCommands, ...commands };
  const program = new Command('lb-provisioner')
    .description(
      'Gives every Service of type LoadBalancer a real load balancer (AWS NLB, Azure, or a local MetalLB-like provider).',
    )
    // set before the subcommands exist: they inherit both
    .exitOverride()
    .configureOutput({ writeOut: output.out, writeErr: output.err })
    .showHelpAfterError('(lb-provisioner --help shows the commands; lb-provisioner <command> --help their flags)');

  const flags = runFlags();
  const run = program.command('run').description('run the service controller');
  for (const { spec, provider } of flags) run.addOption(toOption(spec, provider));
  run.action(async (_options: unknown, command: Command) => {
    applyBooleanEnv(
      command,
      flags.map((f) => f.spec),
    );
    await act.run(parseRunConfig(command.opts(), (key) => command.getOptionValueSource(key)));
  });

  registerSpeakerCommand(program, toOption);
  registerOperatorCommands(program, output);

  program
    .command('cleanup')
    .description(
      'remove what the proxy data plane left on this host (nftables tables, VIP interfaces); refused while an instance runs',
    )
    .addOption(
      new Option(
        '--vip-interface <name>',
        'only this interface (lo: only the addresses we added); default: every interface an lb-provisioner made',
      ).env('LBP_VIP_INTERFACE'),
    )
    .action(async (o: { vipInterface?: string }) => {
      if (o.vipInterface !== undefined && !/^[a-zA-Z0-9._-]{1,15}$/.test(o.vipInterface))
        throw new ConfigError('--vip-interface: expected an interface name (at most 15 characters)');
      await act.cleanup(o.vipInterface === undefined ? {} : { vipInterface: o.vipInterface });
    });

  program
    .command('dev-cluster')
    .description('run a local kube-apiserver + etcd (built from the Go module proxy on first use) until interrupted')
    .requiredOption('--kubeconfig-out <path>', 'write the admin kubeconfig here')
    .action((o: { kubeconfigOut: string }) => act.devCluster({ kubeconfigOut: o.kubeconfigOut }));

  program
    .command('demo')
    .description('start a dev control plane, the controller with the local provider, and sample Services')
    .option('--kubeconfig-out <path>', 'write the admin kubeconfig here', '/tmp/lb-provisioner-demo.kubeconfig')
    .option(
      '--dataplane <mode>',
      'proxy, or l2 (root: node namespaces with speakers; a VIP moves when its holder dies)',
      'proxy',
    )
    .action((o: { kubeconfigOut: string; dataplane: string }) => {
      if (o.dataplane === 'l2') return runL2Demo({ kubeconfigOut: o.kubeconfigOut });
      if (o.dataplane !== 'proxy')
        throw new ConfigError(`--dataplane: expected proxy or l2, got ${JSON.stringify(o.dataplane)}`);
      return act.demo({ kubeconfigOut: o.kubeconfigOut });
    });

  return program;
}

/**
 * Parses and runs one command. Resolves with the exit code when the command ended in an error or printed
 * help, undefined when it started normally (a `run` keeps the process alive on its own).
 */
export async function runCli(
  args: readonly string[],
  commands: Partial<Commands> = {},
  output: Output = stdio,
): Promise<number | undefined> {
  const program = buildProgram(commands, output);
  const unknown = unknownCommand(program, args);
  if (unknown !== undefined) {
    const known = program.commands.map((c) => c.name()).join(', ');
    output.err(`lb-provisioner: unknown command ${JSON.stringify(unknown)} (commands: ${known}; see --help)\n`);
    return 2;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    // a one-shot command is done: exit now rather than wait for pooled connections to idle out
    const first = args.find((a) => !a.startsWith('-'));
    return (OPERATOR_COMMANDS as readonly string[]).includes(first ?? '') ? 0 : undefined;
  } catch (err) {
    // commander has already printed its message (unknown flag, missing value) and the hint
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      output.err(`lb-provisioner: invalid configuration:\n${err.message}\n`);
      return 2;
    }
    if (err instanceof UserFixableError) {
      output.err(`lb-provisioner: ${err.message}\n`);
      return 2;
    }
    if (err instanceof RunFailure) {
      output.err(`lb-provisioner: ${err.message}\n`);
      return 1;
    }
    output.err(`lb-provisioner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

/**
 * The first word that is not a flag must be a command. commander would print the top-level help and
 * exit 0 for `lb-provisioner bgp-speaker --help`, so a script would believe it worked.
 */
function unknownCommand(program: Command, args: readonly string[]): string | undefined {
  const names = new Set(program.commands.map((c) => c.name()));
  const words = args.filter((a) => !a.startsWith('-'));
  const [first, second] = words;
  if (first === undefined) return undefined;
  if (first === 'help') return second !== undefined && !names.has(second) ? second : undefined;
  return names.has(first) ? undefined : first;
}

export async function main(argv: readonly string[]): Promise<void> {
  const code = await runCli(argv.slice(2));
  if (code !== undefined) process.exit(code);
}

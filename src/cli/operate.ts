/**
 * The operator's everyday commands: `doctor`, `plan` and `status`. They take the flags of `run` (the same
 * command line answers "would this work", "what would it do" and "what did it do") plus `-o/--output`;
 * they read, and never write to the cluster or the cloud.
 */
import { Command, Option } from 'commander';
import { parseRunConfig, type Config } from '../config/config.ts';
import { applyBooleanEnv } from '../config/boolean-env.ts';
import { createLogger } from '../log.ts';
import { RunFailure } from './exit-errors.ts';
import { runFlags, toOption } from './options.ts';
import type { Output } from './output.ts';

export type OutputFormat = 'table' | 'json';

export const OPERATOR_COMMANDS = ['doctor', 'plan', 'status'] as const;

const HELP = {
  doctor:
    "check that the controller can work here: kubeconfig, apiserver version, CRDs, every permission it needs (SelfSubjectAccessReview), the provider's credentials, other load-balancer controllers, kube-proxy strictARP; exit 1 on any FAIL",
  plan: 'print what the controller would do for each LoadBalancer Service (create, update with the diff, delete, nothing), changing nothing',
  status: 'list every Service the controller owns: address, provider, Ready condition, target health, last error',
} as const;

function outputOption(): Option {
  return new Option('-o, --output <format>', 'table or json').choices(['table', 'json']).default('table');
}

function configOf(command: Command): Config {
  const flags = runFlags();
  applyBooleanEnv(
    command,
    flags.map((f) => f.spec),
  );
  return parseRunConfig(command.opts(), (key) => command.getOptionValueSource(key));
}

const operatorLog = () => createLogger('warn', process.stderr);

export function registerOperatorCommands(program: Command, output: Output): void {
  const add = (name: keyof typeof HELP) => {
    const command = program.command(name).description(HELP[name]).addOption(outputOption());
    for (const { spec, provider } of runFlags()) command.addOption(toOption(spec, provider));
    return command;
  };

  add('doctor').action(async (o: { output: OutputFormat }, command: Command) => {
    const config = configOf(command);
    const { runDoctor } = await import('../operate/doctor.ts');
    const { doctorReport, renderDoctor } = await import('../operate/doctor-output.ts');
    const report = doctorReport(await runDoctor(config, operatorLog()));
    output.out(o.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report));
    if (!report.ok)
      throw new RunFailure(
        `doctor: ${report.counts.FAIL} check(s) failed: ${report.checks
          .filter((c) => c.result === 'FAIL')
          .map((c) => c.check)
          .join(', ')}`,
      );
  });

  add('plan').action(async (o: { output: OutputFormat }, command: Command) => {
    const config = configOf(command);
    const { takeSnapshot } = await import('../operate/snapshot.ts');
    const { planAll } = await import('../operate/plan.ts');
    const { renderPlan } = await import('../operate/operate-output.ts');
    const snapshot = await takeSnapshot(config, operatorLog());
    try {
      const entries = await planAll(snapshot, config.clusterName, AbortSignal.timeout(120_000));
      output.out(o.output === 'json' ? `${JSON.stringify({ services: entries }, null, 2)}\n` : renderPlan(entries));
    } finally {
      await snapshot.close();
    }
  });

  add('status').action(async (o: { output: OutputFormat }, command: Command) => {
    const config = configOf(command);
    const { takeSnapshot } = await import('../operate/snapshot.ts');
    const { statusAll } = await import('../operate/status.ts');
    const { renderStatus } = await import('../operate/operate-output.ts');
    const snapshot = await takeSnapshot(config, operatorLog());
    try {
      const rows = await statusAll(snapshot, config.clusterName, AbortSignal.timeout(120_000));
      output.out(o.output === 'json' ? `${JSON.stringify({ services: rows }, null, 2)}\n` : renderStatus(rows));
    } finally {
      await snapshot.close();
    }
  });
}

/**
 * `lb-provisioner speaker --node-name <node>`: the L2 speaker, run on every node (DaemonSet, hostNetwork,
 * deploy/speaker/). main.ts registers the command with one call. Light on purpose: the speaker itself loads
 * only when the command runs.
 */
import type { Command, Option } from 'commander';
import type { FlagSpec } from '../../../src/config/flag-spec.ts';
import { parseSpeakerConfig, speakerFlags, type SpeakerConfig } from './speaker-config.ts';

/**
 * Adds `speaker` to the program. `toOption` turns a flag spec into a commander option the way every other
 * command's flags are made (src/cli/options.ts), so flags and environment variables behave alike.
 */
export function registerSpeakerCommand(
  program: Command,
  toOption: (spec: FlagSpec) => Option,
  run: (config: SpeakerConfig) => Promise<void> = async (c) => (await import('./run-speaker.ts')).runSpeaker(c),
): Command {
  const command = program
    .command('speaker')
    .description(
      'run the L2 speaker on this node: answers ARP/NDP for the VIPs it is elected for (local provider, --dataplane l2)',
    );
  for (const spec of speakerFlags) command.addOption(toOption(spec));
  command.action(async (_options: unknown, cmd: Command) => run(parseSpeakerConfig(cmd.opts())));
  return command;
}

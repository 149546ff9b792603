import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { ConfigError } from '../../../src/config/errors.ts';
import { toOption } from '../../../src/cli/options.ts';
import { registerSpeakerCommand } from './speaker-command.ts';
import type { SpeakerConfig } from './speaker-config.ts';

/** Parses `speaker ...` with a run that only records the configuration. */
async function speaker(args: string[], env: Record<string, string> = {}): Promise<SpeakerConfig> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let config: SpeakerConfig | undefined;
  try {
    const program = new Command('lb-provisioner').exitOverride();
    registerSpeakerCommand(
      program,
      (spec) => toOption(spec),
      async (c) => void (config = c),
    );
    await program.parseAsync(['speaker', ...args], { from: 'user' });
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  if (!config) throw new Error('the speaker did not run');
  return config;
}

const messageOf = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'no error',
    (err: unknown) => (err instanceof ConfigError ? err.message : `not a ConfigError: ${String(err)}`),
  );

describe('lb-provisioner speaker flags', () => {
  it('defaults: heartbeat on UDP 7947 every 100 ms, 500 ms timeout; the node name from LBP_NODE_NAME (the DaemonSet sets it)', async () => {
    expect(await speaker([], { LBP_NODE_NAME: 'worker-1' })).toMatchObject({
      nodeName: 'worker-1',
      heartbeatPort: 7947,
      heartbeatInterval: 100,
      heartbeatTimeout: 500,
      apiserverTimeout: 10_000,
      metricsBindAddress: '127.0.0.1:7473',
    });
    expect((await speaker(['--node-name', 'worker-2', '--heartbeat-timeout', '2s'])).heartbeatTimeout).toBe(2000);
  });

  it('a bad value is an error naming the flag, before anything starts', async () => {
    expect(await messageOf(speaker([]))).toMatch(/^--node-name: required/);
    expect(await messageOf(speaker(['--node-name', 'n1', '--heartbeat-port', '70000']))).toBe(
      '--heartbeat-port: expected a port number (1-65535)',
    );
    expect(await messageOf(speaker(['--node-name', 'n1', '--heartbeat-timeout', '200ms']))).toBe(
      '--heartbeat-timeout: must be at least three --heartbeat-interval (one lost datagram must not kill a peer)',
    );
    expect(await messageOf(speaker(['--node-name', 'Not_A_Node']))).toBe('--node-name: not a Node name');
  });
});

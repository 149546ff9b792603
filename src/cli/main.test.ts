/** The command line as a user and a script meet it: values, environment, exit codes and messages. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/config.ts';
import { runCli } from './main.ts';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));

/** Runs the CLI in-process with a `run` that only records its configuration. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  let config: Config | undefined;
  let stderr = '';
  let stdout = '';
  try {
    const code = await runCli(
      args,
      { run: async (c) => void (config = c) },
      { out: (t) => void (stdout += t), err: (t) => void (stderr += t) },
    );
    return { code: code ?? 0, config, stderr, stdout };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('lb-provisioner command line', () => {
  afterEach(() => {
    delete process.env['LBP_CLASS_ONLY'];
  });

  it('reads switches from the environment by value: false means false', async () => {
    const local = ['run', '--provider', 'local'];
    expect((await cli(local, { LBP_CLASS_ONLY: 'false' })).config?.classOnly).toBe(false);
    expect((await cli(local, { LBP_CLASS_ONLY: 'false' })).config?.defaultProvider).toBe('local');
    expect((await cli(local, { LBP_CLASS_ONLY: 'true' })).config?.classOnly).toBe(true);
    expect((await cli(local, { LBP_CLASS_ONLY: '1' })).config?.classOnly).toBe(true);
    expect((await cli(local, { LBP_NO_LEADER_ELECT: 'false' })).config?.leaderElect).toBe(true);
    expect((await cli(local, { LBP_NO_LEADER_ELECT: '1' })).config?.leaderElect).toBe(false);
    const aws = await cli(['run', '--provider', 'aws'], { LBP_NO_AWS_ADOPT: 'false' });
    expect(aws.config?.providers[0]?.options).toMatchObject({ awsAdopt: true });
    const fake = await cli(['run', '--provider', 'fake'], { LBP_FAKE_CALL_LINES: '1' });
    expect(fake.config?.providers[0]?.options).toMatchObject({ fakeCallLines: true });
    // the command line wins over the environment
    expect((await cli([...local, '--class-only'], { LBP_CLASS_ONLY: 'false' })).config?.classOnly).toBe(true);
  });

  it('refuses a switch in the environment that is not a boolean', async () => {
    const r = await cli(['run', '--provider', 'local'], { LBP_CLASS_ONLY: 'yes' });
    expect(r.code).toBe(2);
    expect(r.config).toBeUndefined();
    expect(r.stderr).toBe(
      'lb-provisioner: invalid configuration:\nLBP_CLASS_ONLY: expected true, false, 1 or 0, got "yes"\n',
    );
  });

  it('an unknown command exits 2, even with --help after it', async () => {
    for (const args of [['bgp-speaker', '--help'], ['bgp-speaker'], ['help', 'bgp-speaker']]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^lb-provisioner: unknown command "bgp-speaker" \(commands: run, /);
      expect(r.stdout).toBe('');
    }
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli(['run', '--help'])).code).toBe(0);
    expect((await cli([])).code).toBe(2);
  });

  it('an unknown flag or a missing value exits 2', async () => {
    const unknown = await cli(['run', '--provider', 'local', '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--bogus'");
    const missing = await cli(['run', '--provider']);
    expect(missing.code).toBe(2);
  });

  it('a bad --pool names the flag once', async () => {
    const r = await cli(['run', '--provider', 'local', '--pool', '10.0.0.300/24']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'lb-provisioner: invalid configuration:\n--pool: "10.0.0.300/24" is not a CIDR (10.0.0.0/24), a range (10.0.0.10-10.0.0.20) or an IP address\n',
    );
  });

  it("refuses flags of a provider that is not running, from the command line or the environment; its defaults don't count", async () => {
    const r = await cli(['run', '--provider', 'aws', '--pool', '10.0.0.0/28', '--dataplane', 'proxy']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      [
        'lb-provisioner: invalid configuration:',
        '--pool: only the local provider reads it, and it is not running; add --provider local or remove it',
        '--dataplane: only the local provider reads it, and it is not running; add --provider local or remove it',
        '',
      ].join('\n'),
    );
    const env = await cli(['run', '--provider', 'local'], { LBP_AWS_REGION: 'eu-west-1' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain(
      'LBP_AWS_REGION (--aws-region): only the aws provider reads it, and it is not running; add --provider aws or remove it',
    );
    expect((await cli(['run', '--provider', 'local', '--no-aws-adopt'])).stderr).toContain(
      '--no-aws-adopt: only the aws provider reads it',
    );
    expect((await cli(['run', '--provider', 'local'])).code).toBe(0);
  });

  it('cleanup takes an interface name, and refuses anything else before touching the host', async () => {
    let asked: unknown;
    const code = await runCli(
      ['cleanup', '--vip-interface', 'eth0; rm'],
      { cleanup: async (o) => void (asked = o) },
      {
        out: () => {},
        err: () => {},
      },
    );
    expect(code).toBe(2);
    expect(asked).toBeUndefined();
    await runCli(['cleanup', '--vip-interface', 'lo'], { cleanup: async (o) => void (asked = o) });
    expect(asked).toEqual({ vipInterface: 'lo' });
  });

  it('as its own process: exit codes a script can trust', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
    const unknown = run('bgp-speaker', '--help');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "bgp-speaker"');
    expect(run('run', '--bogus').status).toBe(2);
    expect(run('--help').status).toBe(0);
  });

  it('a kubeconfig that is missing, or none outside a cluster: one line, exit 2', () => {
    const env = { ...process.env };
    delete env['KUBECONFIG'];
    delete env['KUBERNETES_SERVICE_HOST'];
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, 'run', '--provider', 'fake', ...args], { encoding: 'utf8', env });
    const missing = run('--kubeconfig', '/nonexistent/kc');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      "lb-provisioner: --kubeconfig /nonexistent/kc: ENOENT: no such file or directory, open '/nonexistent/kc'\n",
    );
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toBe(
      'lb-provisioner: no --kubeconfig (or KUBECONFIG), and not running in a cluster (KUBERNETES_SERVICE_HOST is unset); give --kubeconfig\n',
    );
  });

  it('doctor, plan and status have --help text naming what they do and -o/--output', async () => {
    for (const [command, says] of [
      ['doctor', 'exit 1 on any FAIL'],
      ['plan', 'changing nothing'],
      ['status', 'last error'],
    ] as const) {
      const r = await cli([command, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: lb-provisioner ${command} [options]`);
      expect(r.stdout).toContain(says);
      expect(r.stdout).toMatch(/-o, --output <format>\s+table or json \(choices: "table", "json", default: "table"\)/);
      expect(r.stdout).toContain('--provider <name>');
    }
  });

  it('an unknown output format is refused with exit 2', async () => {
    const r = await cli(['plan', '--provider', 'fake', '-o', 'yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '-o, --output <format>' argument 'yaml' is invalid");
  });
});

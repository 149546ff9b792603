import { describe, expect, it } from '@jest/globals';
import { parseRunConfig, type RawOptions } from './config.ts';
import { parseDuration } from './duration.ts';

const raw = (over: RawOptions = {}): RawOptions => ({
  provider: ['local'],
  classOnly: false,
  clusterName: 'kubernetes',
  workers: '8',
  nodeSyncConcurrency: '128',
  resyncPeriod: '10m',
  leaderElect: true,
  leaderElectNamespace: 'lb-provisioner',
  leaderElectName: 'lb-provisioner',
  leaderElectLeaseDuration: '15s',
  leaderElectRenewDeadline: '10s',
  leaderElectRetryPeriod: '2s',
  metricsBindAddress: '127.0.0.1:8080',
  apiserverTimeout: '60s',
  logLevel: 'info',
  pool: [],
  dataplane: 'none',
  proxyBackend: 'auto',
  vipInterface: 'lbp0',
  awsAdopt: true,
  awsQuotaPrecheck: true,
  fakeCallLines: false,
  nodePortRange: '30000-32767',
  ...over,
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('configuration', () => {
  it('parses durations like Go', () => {
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('10 minutes')).toBeUndefined();
  });

  it('defaults the first provider to take class-less Services', () => {
    const c = parseRunConfig(raw({ provider: ['local', 'fake'] }));
    expect(c.defaultProvider).toBe('local');
    expect(c.resyncPeriod).toBe(600_000);
    expect(c.workers).toBe(8);
    expect(parseRunConfig(raw({ classOnly: true })).defaultProvider).toBeUndefined();
  });

  it("hands each running provider its own flags, validated by its descriptor, in the user's order", () => {
    const c = parseRunConfig(raw({ provider: ['fake', 'local'], pool: ['10.0.0.0/28'], dataplane: 'proxy' }));
    expect(c.providers.map((p) => p.name)).toEqual(['fake', 'local']);
    expect(c.providers[1]!.options).toEqual({
      pool: ['10.0.0.0/28'],
      dataplane: 'proxy',
      proxyBackend: 'auto',
      vipInterface: 'lbp0',
    });
  });

  it('names the flag in every error', () => {
    expect(messageOf(() => parseRunConfig(raw({ workers: 'many' })))).toBe('--workers: must be a whole number');
    expect(messageOf(() => parseRunConfig(raw({ nodeSyncConcurrency: '0' })))).toBe(
      '--node-sync-concurrency: must be between 1 and 4096',
    );
    expect(messageOf(() => parseRunConfig(raw({ nodePortRange: '32767-30000' })))).toBe(
      '--node-port-range: "32767-30000" is not a port range like 30000-32767',
    );
    expect(messageOf(() => parseRunConfig(raw({ provider: ['gcp'] })))).toBe(
      '--provider: expected one of local, aws, azure, fake, got "gcp"',
    );
    expect(messageOf(() => parseRunConfig(raw({ provider: [] })))).toMatch(/^--provider: at least one/);
    expect(messageOf(() => parseRunConfig(raw({ resyncPeriod: 'soon' })))).toMatch(
      /^--resync-period: "soon" is not a duration/,
    );
    expect(messageOf(() => parseRunConfig(raw({ defaultProvider: 'aws' })))).toBe(
      '--default-provider: aws is not one of the --provider values (local)',
    );
    expect(messageOf(() => parseRunConfig(raw({ clusterName: 'My Cluster' })))).toMatch(
      /^--cluster-name: must be a DNS label/,
    );
    expect(messageOf(() => parseRunConfig(raw({ leaderElectRenewDeadline: '20s' })))).toBe(
      '--leader-elect-renew-deadline: must be shorter than --leader-elect-lease-duration',
    );
    expect(messageOf(() => parseRunConfig(raw({ dataplane: 'bgp' })))).toBe('--dataplane: expected none, proxy or l2');
    expect(messageOf(() => parseRunConfig(raw({ provider: ['aws'], awsEndpoint: 'moto' })))).toBe(
      '--aws-endpoint: expected a URL (e.g. http://127.0.0.1:5000)',
    );
  });
});

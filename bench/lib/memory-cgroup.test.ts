import { describe, expect, it } from '@jest/globals';
import { PRODUCTION_NODE_OPTIONS } from '../../src/cli/runtime-flags.ts';
import { deploymentMemoryLimitMiB, mebibytes, memoryCgroup, nodeOptionsOutsideCgroup } from './memory-cgroup.ts';
import { spawnProc } from './proc.ts';

describe('memory limits for controllers under test', () => {
  it('reads Kubernetes quantities in Mi and Gi, and refuses others', () => {
    expect(mebibytes('256Mi')).toBe(256);
    expect(mebibytes('2Gi')).toBe(2048);
    expect(() => mebibytes('256M')).toThrow('not a Mi or Gi quantity');
  });

  it("reads the controller's limit from its Deployment", () => {
    expect(deploymentMemoryLimitMiB()).toBe(256);
  });

  it('outside a cgroup, the old space the shipped percentage gives is set as a size in its place', () => {
    const options = nodeOptionsOutsideCgroup(256);
    expect(options).toContain('--max-old-space-size=128');
    // the percentage would win over the size, and take its share of the whole machine
    expect(options).not.toContain('percentage');
    expect(options).toContain('--max-semi-space-size=1');
  });

  // creating a cgroup needs root, which CI has
  const asRoot = process.getuid?.() === 0 ? it : it.skip;
  asRoot('a controller started in the cgroup sizes its heap from the limit, as in a container', async () => {
    const cgroup = memoryCgroup(`lbp-test-${process.pid}`, 256 * 1024 * 1024);
    expect(cgroup).toBeDefined();
    const lines: string[] = [];
    const proc = spawnProc(
      process.execPath,
      [
        '-e',
        'console.log(process.constrainedMemory() / 2 ** 20, Math.round(require("v8").getHeapStatistics().heap_size_limit / 2 ** 20))',
      ],
      {
        name: 'heap',
        env: { ...process.env, NODE_OPTIONS: PRODUCTION_NODE_OPTIONS },
        onLine: (line) => lines.push(line),
        cgroupProcs: cgroup!.procs,
      },
    );
    expect(await proc.exited).toBe(0);
    cgroup!.remove();
    const [constrained, heapLimit] = lines[0]!.split(' ').map(Number);
    expect(constrained).toBe(256);
    // half the limit for the old space, plus the young generation's few MB
    expect(heapLimit).toBeGreaterThanOrEqual(128);
    expect(heapLimit).toBeLessThan(140);
  });
});

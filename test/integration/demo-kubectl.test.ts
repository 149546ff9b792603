/**
 * The demo's "try:" line names the kubectl built with the control plane, because a fresh machine has no
 * kubectl of its own: the exact command it prints works with nothing on PATH.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { tryKubectl } from '../../src/cli/dev-cluster.ts';
import { startControlPlane, type ControlPlane } from '../harness/controlplane.ts';

describe("the demo's kubectl hint", () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('runs as printed, with an empty PATH', () => {
    const command = tryKubectl(cp.binDir, cp.adminKubeconfigPath);
    expect(command.startsWith(`${cp.binDir}/kubectl `)).toBe(true);
    // control: with an empty PATH a bare `kubectl` is not found
    expect(spawnSync('/bin/sh', ['-c', 'kubectl version --client'], { env: { PATH: '' } }).status).toBe(127);
    // HOME: kubectl keeps a discovery cache under it (the cwd without one)
    const r = spawnSync('/bin/sh', ['-c', command], { cwd: cp.dir, env: { PATH: '', HOME: cp.dir }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^default\s+kubernetes\s+ClusterIP/m);
  });
});

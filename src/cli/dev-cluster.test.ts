/** dev-cluster and the demo need Go at run time to build the control plane: without it, one line and exit 2. */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/lb-provisioner.js', import.meta.url));

describe('dev-cluster on a machine without Go', () => {
  it('says what to install, in one line, and exits 2', () => {
    const cache = mkdtempSync(join(tmpdir(), 'lbp-nogo-'));
    try {
      const r = spawnSync(process.execPath, [BIN, 'dev-cluster', '--kubeconfig-out', join(cache, 'kc')], {
        encoding: 'utf8',
        // an empty cache (a build is needed) and a PATH without go
        env: { ...process.env, LBP_CACHE_DIR: cache, PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
      });
      expect(r.status).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('lb-provisioner:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^lb-provisioner: building the dev control plane failed \(exit 3\): .*install Go >= 1\.26/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { CONTROLLER_PERMISSIONS, PEER_LEASE, type Permission } from './controller-permissions.ts';

const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}
interface RbacObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  rules?: Rule[];
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** The object of this kind and name wherever it sits under deploy/ (the layout may move). */
function rbacObject(kind: string, name: string): RbacObject {
  const found = yamlFiles(DEPLOY).flatMap((f) =>
    parseAllDocuments(readFileSync(f, 'utf8'))
      .map((d) => d.toJS() as RbacObject | null)
      .filter((o): o is RbacObject => o?.kind === kind && o.metadata?.name === name),
  );
  expect(found).toHaveLength(1);
  return found[0]!;
}

const granted = (o: RbacObject, withNames: boolean): string[] =>
  (o.rules ?? [])
    .flatMap((r) =>
      (r.apiGroups ?? []).flatMap((g) =>
        (r.resources ?? []).flatMap((res) =>
          (r.verbs ?? []).map(
            (v) => `${g}/${res} ${v}${withNames && r.resourceNames ? ` [${r.resourceNames.join(',')}]` : ''}`,
          ),
        ),
      ),
    )
    .sort();

const needed = (scope: Permission['scope']): string[] =>
  CONTROLLER_PERMISSIONS.filter((p) => p.scope === scope)
    .map((p) => `${p.group}/${p.resource} ${p.verb}`)
    .sort();

describe("the controller's permission table and deploy/ agree", () => {
  it('the ClusterRole grants exactly the cluster-wide rows', () => {
    const role = rbacObject('ClusterRole', 'lb-provisioner');
    expect(granted(role, false)).toEqual(needed('cluster'));
    expect(JSON.stringify(role.rules)).not.toContain('*');
  });

  it('the leader-election Role grants exactly the Lease rows', () => {
    expect(granted(rbacObject('Role', 'lb-provisioner-leader-election'), false)).toEqual(needed('lease'));
  });

  it('the kube-system Role grants reading only the cloud controller manager Lease', () => {
    const role = rbacObject('Role', 'lb-provisioner-peer-controllers');
    expect(role.metadata?.namespace).toBe(PEER_LEASE.namespace);
    expect(granted(role, true)).toEqual(needed('peer').map((p) => `${p} [${PEER_LEASE.name}]`));
  });
});

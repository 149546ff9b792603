import { describe, expect, it } from '@jest/globals';
import { namesUsed } from './bundle-dependencies.ts';

const PKG = '@kubernetes/client-node';

describe('namesUsed (the names compiled code reads from a package)', () => {
  it('reads members of a namespace import and named imports, not other objects that end alike', () => {
    const source = [
      `import * as k8s from '${PKG}';`,
      `import { KubeConfig, Watch as W } from "${PKG}";`,
      'const api = kc.makeApiClient(k8s.CoreV1Api);',
      'k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);',
      'const key = "k8s.io/ingress", domain = "cloud-provider-kind.k8s.io"; // k8s.Commented',
      'notk8s.Hidden; other.k8s.AlsoHidden;',
    ].join('\n');
    expect([...namesUsed(PKG, source)].sort()).toEqual(
      ['CoreV1Api', 'KubeConfig', 'PatchStrategy', 'Watch', 'setHeaderOptions'].sort(),
    );
  });

  it('finds nothing in a module that does not import the package', () => {
    expect(namesUsed(PKG, `import * as k8s from 'other';\nk8s.CoreV1Api;`).size).toBe(0);
  });

  it('is not misled by the alias in a comment, a string or a longer name', () => {
    const source = [
      `import * as k8s from '${PKG}';`,
      '// the k8s.CoreV1Api client: see "k8s docs" and k8s-style names',
      'const k8sClient = new k8s.CoreV1Api(); const label = "k8s";',
    ].join('\n');
    expect([...namesUsed(PKG, source)]).toEqual(['CoreV1Api']);
  });

  it.each([
    ['the namespace passed on whole', `import * as k8s from '${PKG}';\nregister(k8s);`],
    ['the namespace destructured', `import * as k8s from '${PKG}';\nconst { Watch } = k8s;`],
    ['a default import', `import k8s from '${PKG}';`],
    ['a re-export', `export * from '${PKG}';`],
    ['a named re-export', `export { KubeConfig } from '${PKG}';`],
    ['a dynamic import', `const k8s = await import('${PKG}');`],
  ])('refuses %s, whose names it cannot read', (_, source) => {
    expect(() => namesUsed(PKG, source)).toThrow(/can't be read/);
  });
});

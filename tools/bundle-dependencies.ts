/**
 * The image's build stage, after tsc: @kubernetes/client-node as one minified module holding only what our
 * compiled code uses. Loaded as published, it is about 2,700 modules (every API group and model), and Node
 * keeps each module's record, source and code: Node with it loaded idles at 109 MB, bundled at 84-88 MB
 * (bench/lib/runtime-floor.ts, Node alone 43 MB). esbuild
 * bundles a module that re-exports just the names our code reads from the package, and drops the rest.
 *
 *   node tools/bundle-dependencies.ts <out>     (from the app directory, after tsc has compiled src and providers)
 *
 * writes <out>/node_modules/<package>/<its main file>; the image copies <out>/node_modules over the production
 * node_modules, so an `import ... from '@kubernetes/client-node'` of ours gets the bundle. The packages we
 * depend on ourselves stay outside it, imported from node_modules as before, so they load once.
 *
 * The names: every `alias.Name` of an `import * as alias from '<package>'` and every `import { Name }` in the
 * compiled .js files (types are gone from them), read from their syntax trees. A form that hides the names
 * (a default import, a re-export, a dynamic import, the namespace object passed on whole) stops the build
 * rather than ship a bundle without what it needs.
 */
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const PACKAGES = ['@kubernetes/client-node'];

/** An ES module bundle's first line: CommonJS dependencies inside it call require() for Node's own modules */
export const REQUIRE_BANNER =
  "import { createRequire as __lbpRequire } from 'node:module'; const require = __lbpRequire(import.meta.url);";
const COMPILED = ['src', 'providers'];

/**
 * The names `source` (a JavaScript module) reads from `pkg`, found on its syntax tree (TypeScript's parser):
 * so an alias in a comment or a string is not a use. A form that hides the names is an error.
 */
export function namesUsed(pkg: string, source: string): Set<string> {
  const file = ts.createSourceFile('module.js', source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const names = new Set<string>();
  const aliases = new Set<string>();
  const hidden = (form: string): never => {
    throw new Error(`${pkg} is used in a form whose names can't be read: ${form}`);
  };
  const isPkg = (e: ts.Node | undefined): boolean => !!e && ts.isStringLiteral(e) && e.text === pkg;
  for (const st of file.statements) {
    if (ts.isImportDeclaration(st) && isPkg(st.moduleSpecifier)) {
      const clause = st.importClause;
      if (clause?.name) hidden('a default import');
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) aliases.add(bindings.name.text);
      else if (bindings) for (const el of bindings.elements) names.add((el.propertyName ?? el.name).text);
    } else if (ts.isExportDeclaration(st) && isPkg(st.moduleSpecifier)) hidden('a re-export');
  }
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && isPkg(node.arguments[0]))
      hidden('a dynamic import');
    if (ts.isIdentifier(node) && aliases.has(node.text) && !ts.isNamespaceImport(node.parent)) {
      const parent = node.parent;
      if (ts.isPropertyAccessExpression(parent) && parent.expression === node) names.add(parent.name.text);
      else if (!(ts.isPropertyAccessExpression(parent) && parent.name === node))
        hidden(`its namespace \`${node.text}\` used whole`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return names;
}

/** the text of every compiled module under `dir` (also read by the image test, on the shipped tree) */
export function compiledSources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

/** the packages our package.json depends on (production) */
function ourDependencies(): string[] {
  const manifest = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return Object.keys(manifest.dependencies ?? {});
}

async function bundle(pkg: string, sources: string[], out: string): Promise<string> {
  const require = createRequire(join(process.cwd(), 'package.json'));
  const manifestPath = require.resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { main?: string; exports?: unknown };
  if (manifest.exports !== undefined || !manifest.main)
    throw new Error(`${pkg}: only a package with a "main" and no "exports" map is handled`);
  const exported = (await import(pathToFileURL(join(manifestPath, '..', manifest.main)).href)) as object;
  const used = new Set(sources.flatMap((s) => [...namesUsed(pkg, s)]));
  const names = [...used].sort();
  const missing = names.filter((n) => !(n in exported));
  // read at run time, they would be undefined as published too: a defect of ours, not of the bundle
  if (missing.length > 0) throw new Error(`${pkg} does not export ${missing.join(', ')}, which our code reads`);
  if (names.length === 0) throw new Error(`${pkg}: no name of it is used; nothing to bundle`);
  const entry = join(out, `entry-${pkg.replace(/\W/g, '_')}.mjs`);
  mkdirSync(out, { recursive: true });
  writeFileSync(entry, `export { ${names.join(', ')} } from '${pkg}';\n`);
  const outfile = join(out, 'node_modules', pkg, manifest.main);
  await build({
    entryPoints: [entry],
    absWorkingDir: process.cwd(),
    nodePaths: [join(process.cwd(), 'node_modules')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node26',
    minify: true,
    keepNames: true,
    outfile,
    // what our code imports itself stays shared: bundled in, undici (client-node's HTTP client, and our
    // connection pool's) would load a second time beside our own import of it
    external: ourDependencies().filter((d) => d !== pkg),
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
  rmSync(entry);
  return `${pkg}: ${names.length} names -> ${outfile}`;
}

async function main(): Promise<void> {
  const [out] = process.argv.slice(2);
  if (!out) throw new Error('usage: node tools/bundle-dependencies.ts <out>');
  const sources = COMPILED.flatMap(compiledSources);
  if (sources.length === 0) throw new Error(`no compiled .js under ${COMPILED.join(', ')}: run tsc first`);
  for (const pkg of PACKAGES) process.stdout.write(`${await bundle(pkg, sources, resolve(out))}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

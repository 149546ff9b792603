/**
 * The image's build stage, after tsc: `lb-provisioner run` (the controller, the process that runs for good)
 * as a few minified modules of its own, holding only the code `run` can reach. Loaded module by module, the
 * controller is about 500 modules (undici, zod, prom-client with @opentelemetry/api, pino, client-node
 * bundled to the names our code reads, ours), and Node keeps each module's record, source and code. A
 * bundle of its own also leaves out client-node's typed API classes and their 750 models, which only the
 * operator commands use (the run path reads and writes through src/kube/plain-request.ts): a bundle of all
 * commands would hold them, since a split bundle keeps one copy of a package for every command.
 *
 *   node tools/bundle-controller.ts <out>     (from the app directory, after tsc has compiled src and providers)
 *
 * writes <out>/main.js and its chunks; bin/lb-provisioner.js imports <out>/main.js for `run` (and the
 * compiled src/cli/main.js for every other command), so one process never mixes the two copies.
 *
 * What `run` can't reach stays out: the other commands' modules (dev-cluster, demo, cleanup, doctor, status,
 * the speaker, the providers' doctor hooks) are dynamic imports of ours, left as imports of the compiled
 * tree. The AWS and Azure providers, loaded only when configured, stay chunks of their own.
 *
 * A module of ours that finds a file beside itself (`new URL('./x', import.meta.url)`: the userspace proxy's
 * worker, the L2 responder's addon) keeps finding it: each `import.meta.url` of ours becomes the URL its
 * module had in the compiled tree.
 *
 * Node's own modules (`node:http`, `node:crypto`, ...) are imported as their CommonJS exports
 * (process.getBuiltinModule), not as their ES module facades: to build a facade Node reads every export, and
 * the lazy ones load what they hold. Reading node:http's `WebSocket` loads Node's own copy of undici (about
 * 800 KB of source, with the web streams it needs: about 10 MB of RSS in a process that imported only
 * node:http); node:crypto's `webcrypto` loads Web Crypto (about 2 MB), node:process's `report` the
 * diagnostic report: for names the controller never uses.
 *
 * Nor are client-node's 750 models. Their modules are declared free of side effects (each defines its class
 * and sets that class's own fields), so those nobody names are left out; and ListWatch, which reaches the
 * model serializer (whose type map names them all) only to pass a selector through as a string, gets a
 * stand-in that passes primitives and throws for a model (MODEL_SERIALIZER).
 *
 * undici is not in the bundle either: `run` talks to the apiserver through src/kube/transport.ts (Node's
 * https), and the AWS and Azure SDKs use Node's https too; client-node imports undici for the typed clients
 * and watches only the other commands use. Each of its names in the bundle throws if it is ever called.
 * Loaded, undici with the HTTP/2 and web streams modules it pulls in was about 14 MB more RSS than Node's
 * https alone.
 */
import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REQUIRE_BANNER } from './bundle-dependencies.ts';

/** the compiled modules that only commands other than `run` load (dynamic imports of ours) */
export const NOT_RUN = [
  'src/cli/dev-cluster.js',
  'src/cli/demo.js',
  'src/cli/cleanup.js',
  'src/operate/',
  'providers/aws/doctor.js',
  'providers/azure/doctor-hook.js',
  'providers/local/doctor.js',
  'providers/local/l2/demo/',
  'providers/local/l2/run-speaker.js',
  'providers/local/dataplane/leftovers.js',
];

const ENTRY = 'src/cli/main.js';

/** Is `file` (relative to the app, with /) one of the modules `run` leaves out? */
export function notRun(file: string): boolean {
  return NOT_RUN.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p));
}

const posix = (p: string): string => p.split(sep).join('/');

/** marks the resolution the no-models plugin asks esbuild for itself */
const PURE_MODELS = Symbol('client-node models');

/** a name a generated module can export as `export const <name>` */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** undici's names, each a function that throws (see above) */
export function undiciStub(app: string): string {
  const names = Object.keys(createRequire(join(app, 'package.json'))('undici') as object).filter((name) =>
    IDENTIFIER.test(name),
  );
  return [
    'const gone = (name) => function () {',
    "  throw new Error(`undici.${name}: undici is not part of the controller's bundle (tools/bundle-controller.ts)`);",
    '};',
    ...names.map((name) => `export const ${name} = gone(${JSON.stringify(name)});`),
    `export default { ${names.join(', ')} };`,
  ].join('\n');
}

/**
 * client-node's model serializer (gen/models/ObjectSerializer.js) as `run`'s bundle has it. `run` reaches it
 * only through ListWatch, which passes a label or field selector through it as a string; the real one's
 * type map holds all of client-node's 750 model classes (390 KB of JavaScript, about 10 MB of RSS loaded
 * alone). Primitive values pass through as the real one passes them; any other type throws.
 */
export const MODEL_SERIALIZER = [
  "const PRIMITIVES = new Set(['string', 'boolean', 'double', 'integer', 'long', 'float', 'number', 'any']);",
  'const primitive = (data, type) => {',
  '  if (data == undefined || PRIMITIVES.has(String(type).toLowerCase())) return data;',
  "  throw new Error(`client-node's model serializer (${type}) is not part of the controller's bundle (tools/bundle-controller.ts)`);",
  '};',
  'export class ObjectSerializer {',
  '  static serialize(data, type) { return primitive(data, type); }',
  '  static deserialize(data, type) { return primitive(data, type); }',
  '}',
].join('\n');

/**
 * A module of Node's own (`node:crypto`) as its CommonJS exports, each by name. A lazily loaded export (a
 * getter: node:http's WebSocket, node:crypto's webcrypto, process.report) is read by a call marked pure, so
 * the bundle reads it only where some module imports that name: a facade reads them all.
 */
export function builtinShim(specifier: string): string {
  const id = specifier.startsWith('node:') ? specifier : `node:${specifier}`;
  const exports = Object.entries(Object.getOwnPropertyDescriptors(process.getBuiltinModule(id))).filter(
    ([name]) => IDENTIFIER.test(name) && name !== 'default',
  );
  const values = exports.filter(([, d]) => 'value' in d).map(([name]) => name);
  const lazy = exports.filter(([, d]) => !('value' in d)).map(([name]) => name);
  return [
    `const __lbpModule = process.getBuiltinModule(${JSON.stringify(id)});`,
    'const __lbpRead = (name) => __lbpModule[name];',
    'export default __lbpModule;',
    ...(values.length > 0 ? [`export const { ${values.join(', ')} } = __lbpModule;`] : []),
    ...lazy.map((name) => `export const ${name} = /* @__PURE__ */ __lbpRead(${JSON.stringify(name)});`),
  ].join('\n');
}

function plugins(app: string, out: string): Plugin[] {
  const ours = (path: string): boolean => !path.includes(`${sep}node_modules${sep}`) && path.startsWith(app);
  return [
    {
      // Node's own modules without their ES module facades (see above)
      name: 'node-builtins',
      setup(b) {
        // one shim per module of Node's and importing package: a bundle evaluates all of a module's exports
        // its importers use at once, so a name only the AWS SDK imports is read only where the SDK loads;
        // a dynamic import takes every name, so it gets a shim of its own
        b.onResolve({ filter: /^[a-z_/:]+$/ }, (args) => {
          if (!isBuiltin(args.path) || (args.kind !== 'import-statement' && args.kind !== 'dynamic-import'))
            return undefined;
          const importer = /node_modules[\\/]((@[^\\/]+[\\/])?[^\\/]+)/.exec(args.importer)?.[1] ?? 'ours';
          const key = args.kind === 'dynamic-import' ? `${importer} (dynamic)` : importer;
          return { path: args.path.replace(/^node:/, ''), namespace: 'lbp-builtin', suffix: `?${key}` };
        });
        b.onLoad({ filter: /.*/, namespace: 'lbp-builtin' }, (args) => ({
          contents: builtinShim(args.path),
          loader: 'js',
        }));
      },
    },
    {
      // client-node's models left out (see above)
      name: 'no-models',
      setup(b) {
        b.onResolve({ filter: /[\\/]gen[\\/]models[\\/]ObjectSerializer\.js$/ }, (args) =>
          /@kubernetes[\\/]client-node[\\/]/.test(args.importer)
            ? { path: 'ObjectSerializer', namespace: 'lbp-models' }
            : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'lbp-models' }, () => ({ contents: MODEL_SERIALIZER, loader: 'js' }));
        // a model module only defines its class, then assigns the class's own static fields, which a bundler
        // must take for side effects: declared free of them, the models nobody names are left out
        b.onResolve({ filter: /^\.\.?\// }, async (args) => {
          if (
            args.pluginData === PURE_MODELS ||
            !/@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]/.test(args.importer)
          )
            return undefined;
          const resolved = await b.resolve(args.path, {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: PURE_MODELS,
          });
          return /[\\/]gen[\\/]models[\\/][^\\/]+\.js$/.test(resolved.path)
            ? { ...resolved, sideEffects: false }
            : undefined;
        });
      },
    },
    {
      // undici left out (see above)
      name: 'no-undici',
      setup(b) {
        b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'lbp-undici' }));
        b.onLoad({ filter: /.*/, namespace: 'lbp-undici' }, () => ({ contents: undiciStub(app), loader: 'js' }));
      },
    },
    {
      // the other commands' modules: imports of the compiled tree, from where the bundle sits
      name: 'not-run',
      setup(b) {
        b.onResolve({ filter: /^\.\.?\// }, (args) => {
          if (args.kind !== 'dynamic-import' || !ours(args.importer)) return undefined;
          const target = resolve(args.resolveDir, args.path);
          if (!notRun(posix(relative(app, target)))) return undefined;
          let path = posix(relative(out, target));
          if (!path.startsWith('.')) path = `./${path}`;
          return { path, external: true };
        });
      },
    },
    {
      // import.meta.url of a module of ours: the URL it had in the compiled tree
      name: 'module-url',
      setup(b) {
        b.onLoad({ filter: /\.js$/ }, async (args) => {
          if (!ours(args.path)) return undefined;
          const text = await readFile(args.path, 'utf8');
          if (!text.includes('import.meta.url')) return undefined;
          const fromOut = posix(relative(out, args.path));
          return {
            contents: text.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromOut)}, import.meta.url).href`),
            loader: 'js',
            resolveDir: dirname(args.path),
          };
        });
      },
    },
  ];
}

export async function bundleController(app: string, out: string): Promise<string[]> {
  const result = await build({
    entryPoints: [join(app, ENTRY)],
    absWorkingDir: app,
    nodePaths: [join(app, 'node_modules')],
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node26',
    minify: true,
    keepNames: true,
    // the licence comments into <chunk>.LEGAL.txt beside each chunk: kept inside, one of them (a name with
    // an umlaut) made V8 hold the whole 1.4 MB chunk's source as a two-byte string, twice the memory
    legalComments: 'external',
    charset: 'ascii',
    outdir: out,
    metafile: true,
    plugins: plugins(app, out),
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
  // each output with what fills it most, for the build log
  return Object.entries(result.metafile.outputs).map(([file, o]) => {
    const by = new Map<string, number>();
    for (const [input, { bytesInOutput }] of Object.entries(o.inputs)) {
      const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'ours';
      by.set(pkg, (by.get(pkg) ?? 0) + bytesInOutput);
    }
    const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 3);
    const parts = top.map(([pkg, bytes]) => `${pkg} ${(bytes / 1024).toFixed(0)}`).join(', ');
    return `${posix(relative(app, resolve(app, file)))}: ${(o.bytes / 1024).toFixed(0)} KiB (${parts})`;
  });
}

async function main(): Promise<void> {
  const [out] = process.argv.slice(2);
  if (!out) throw new Error('usage: node tools/bundle-controller.ts <out>');
  const app = process.cwd();
  for (const line of await bundleController(app, resolve(app, out))) process.stdout.write(`${line}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

/**
 * The memory floor of our runtime, measured beside the controllers in the same run: a Node process that
 * does nothing; one that only loads @kubernetes/client-node (its 2,700 generated model modules load with
 * any API class); and the same client-node script as a TypeScript file, imported from a JavaScript entry
 * as bin/lb-provisioner.js imports our sources, so Node's type stripping is loaded as it is for ours. All
 * three with the V8 flags ours ships with (NODE_OPTIONS, as the benchmark starts ours). No controller
 * written on this stack can go below the second figure, none run from TypeScript sources below the third;
 * the upstream controller (Go) has no such floor. A fourth figure loads client-node as the image's other
 * commands load it, bundled to the names our code reads (tools/bundle-dependencies.ts). The fifth, given an
 * apiserver, is the network client alone: Node's https listing and watching Services over TLS, as `run`
 * does (src/kube/transport.ts), and nothing else: the floor of the controller as its image runs it.
 * (Before `run` had its own transport this figure was measured with undici, client-node 2.x's HTTP client:
 * runs of 2026-12-07 and before.)
 */
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import type https from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { PRODUCTION_MALLOC_ENV, PRODUCTION_NODE_OPTIONS } from '../../src/cli/runtime-flags.ts';
import { compiledBin } from './compiled.ts';
import { memoryMB } from './proc.ts';

export interface RuntimeFloor {
  /** peak RSS of an idle Node process, MB */
  nodeMB: number;
  /** peak RSS of a Node process that has loaded @kubernetes/client-node, MB */
  clientNodeMB: number;
  /**
   * peak RSS of the same, run as TypeScript (type stripping), as bin/ runs ours, MB
   * (absent in runs from before it was measured)
   */
  typeScriptClientNodeMB?: number;
  /** peak RSS of a Node process that has loaded client-node bundled as the image ships it, MB (newer runs) */
  bundledClientNodeMB?: number;
  /**
   * peak RSS of a Node process that lists and watches Services over TLS with Node's https (ours' transport;
   * undici in runs of 2026-12-07 and before) and does nothing else: the network floor of ours, MB
   */
  tlsClientMB?: number;
}

/** Where and as whom the TLS client floor connects: the apiserver of the run, with ours' credentials */
export interface FloorApiserver {
  server: string;
  ca?: string;
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
}

/** The apiserver and credentials of a kubeconfig file, for the TLS client floor */
export async function floorApiserverOf(kubeconfigPath: string): Promise<FloorApiserver> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfigPath}: no current cluster`);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  return {
    server,
    ...(opts.ca ? { ca: String(opts.ca) } : {}),
    ...(opts.cert ? { cert: String(opts.cert) } : {}),
    ...(opts.key ? { key: String(opts.key) } : {}),
    ...(opts.headers ? { headers: opts.headers as Record<string, string> } : {}),
  };
}

/** The TLS client floor: list Services, then watch them from that list, over Node's https kept-alive connections */
const TLS_CLIENT = `import { Agent, get } from 'node:https';
const { server, ca, cert, key, headers } = JSON.parse(process.env.LBP_FLOOR_APISERVER);
const agent = new Agent({ ca, cert, key, keepAlive: true });
const open = (path) => new Promise((resolve, reject) => get(server + path, { agent, headers }, resolve).on('error', reject));
const answer = await open('/api/v1/services');
let text = '';
answer.setEncoding('utf8');
for await (const chunk of answer) text += chunk;
const list = JSON.parse(text);
const watch = await open('/api/v1/services?watch=1&resourceVersion=' + list.metadata.resourceVersion);
watch.on('data', () => {});
process.stdout.write('ready\\n');
setTimeout(() => {}, 60_000);`;

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** the client-node script as a .ts file (bench/lib/runtime-floor-client.ts) */
const TS_CLIENT = new URL('./runtime-floor-client.ts', import.meta.url);

/**
 * Peak RSS of `node --input-type=module -e <script>` once the script has written "ready" and at least
 * 3 s have passed. A script that fails (an import that does not resolve) is an error, not a low floor.
 */
async function peakOf(script: string, env: Record<string, string> = {}): Promise<number> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    // an -e script resolves its imports from the working directory: the repository's, wherever the
    // benchmark was started from
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...PRODUCTION_MALLOC_ENV, NODE_OPTIONS: PRODUCTION_NODE_OPTIONS, ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`runtime floor: no "ready" after 60 s: ${script}`)), 60_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        if (d.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`runtime floor: exited (${code}) before "ready": ${script}\n${stderr}`));
      });
    });
    await sleep(Math.max(0, 3000 - (Date.now() - started)));
    return memoryMB(child.pid!).peak;
  } finally {
    child.kill('SIGKILL');
  }
}

/** client-node's entry module in the compiled copy (bench/lib/compiled.ts), bundled as in the image */
function bundledClientNode(): string {
  const app = dirname(dirname(compiledBin()));
  return pathToFileURL(join(app, 'node_modules/@kubernetes/client-node/dist/index.js')).href;
}

export async function runtimeFloor(apiserver?: FloorApiserver): Promise<RuntimeFloor> {
  const idle = `process.stdout.write('ready\\n'); setTimeout(() => {}, 60_000);`;
  return {
    nodeMB: await peakOf(idle),
    clientNodeMB: await peakOf(`await import('@kubernetes/client-node'); ${idle}`),
    // bin/lb-provisioner.js: a JavaScript entry whose dynamic import() loads the .ts sources
    typeScriptClientNodeMB: await peakOf(`await import(${JSON.stringify(TS_CLIENT.href)});`),
    bundledClientNodeMB: await peakOf(`await import(${JSON.stringify(bundledClientNode())}); ${idle}`),
    ...(apiserver ? { tlsClientMB: await peakOf(TLS_CLIENT, { LBP_FLOOR_APISERVER: JSON.stringify(apiserver) }) } : {}),
  };
}

// node bench/lib/runtime-floor.ts: the four figures that need no apiserver, as JSON
if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(JSON.stringify(await runtimeFloor()));

/**
 * The third floor of bench/lib/runtime-floor.ts: the same tiny script as the client-node floor (load
 * @kubernetes/client-node, then idle), but as a TypeScript file, so Node loads it through type stripping as
 * a checkout runs our sources (bin/lb-provisioner.js; the image runs them compiled). Not a benchmark of its
 * own; runtime-floor.ts spawns it.
 */
import * as k8s from '@kubernetes/client-node';

const exported: number = Object.keys(k8s).length;
process.stdout.write(`ready ${exported}\n`);
setTimeout(() => {}, 60_000);

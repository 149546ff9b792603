/**
 * A memory cgroup for a controller under test, so it runs within the memory limit its Deployment gives it
 * (deploy/controller/deployment.yaml): our V8 flags size the heap from that limit
 * (--max-old-space-size-percentage), as they do in a container. cgroup v2 where its memory controller is
 * on, else the v1 memory hierarchy; none (undefined) without root or either, and the caller says so.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { PRODUCTION_NODE_OPTIONS } from '../../src/cli/runtime-flags.ts';

export interface MemoryCgroup {
  /** the file a process writes its pid into to join */
  readonly procs: string;
  readonly limitBytes: number;
  /** removes the cgroup (once its processes have exited) */
  remove(): void;
}

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/memory';

function v2WithMemory(): boolean {
  try {
    return readFileSync(join(V2, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('memory');
  } catch {
    return false;
  }
}

export function memoryCgroup(name: string, limitBytes: number): MemoryCgroup | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    let dir: string;
    if (v2WithMemory()) {
      writeFileSync(join(V2, 'cgroup.subtree_control'), '+memory');
      dir = join(V2, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
    } else if (existsSync(join(V1, 'memory.limit_in_bytes'))) {
      dir = join(V1, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
    } else {
      return undefined;
    }
    return {
      procs: join(dir, 'cgroup.procs'),
      limitBytes,
      remove() {
        try {
          rmdirSync(dir);
        } catch {
          // a process still in it (removed by the next run of the same name)
        }
      },
    };
  } catch {
    return undefined;
  }
}

/**
 * The prefix that runs a command inside a cgroup: sh writes its own pid (the command's, once it has
 * exec'd) into `procs`, then execs the command, so the limits hold from its first instruction.
 */
export function entering(procs: string): string[] {
  return ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procs];
}

/** Mebibytes from a Kubernetes quantity such as `256Mi` or `1Gi`. */
export function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity.trim());
  if (!m) throw new Error(`not a Mi or Gi quantity: ${quantity}`);
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
}

/** The controller's memory limit in its Deployment (deploy/controller/deployment.yaml), MiB. */
export function deploymentMemoryLimitMiB(): number {
  const file = fileURLToPath(new URL('../../deploy/controller/deployment.yaml', import.meta.url));
  const deployment = parse(readFileSync(file, 'utf8')) as {
    spec: { template: { spec: { containers: { resources?: { limits?: { memory?: string } } }[] } } };
  };
  const limit = deployment.spec.template.spec.containers[0]?.resources?.limits?.memory;
  if (!limit) throw new Error(`${file}: the controller has no memory limit`);
  return mebibytes(limit);
}

/** Ours within a memory limit: the cgroup it joins (none without root), and the NODE_OPTIONS it runs with. */
export interface MemoryLimit {
  cgroup: MemoryCgroup | undefined;
  nodeOptions: string;
}

/**
 * Runs ours as its Deployment does: the shipped NODE_OPTIONS in a cgroup of `limitMiB`, Node sizing the heap
 * from it. Without a cgroup, the same share of the limit is given by flag in place of the percentage (which
 * would take its share of the whole machine, and wins over --max-old-space-size).
 */
export function withinMemoryLimit(name: string, limitMiB: number): MemoryLimit {
  const cgroup = memoryCgroup(name, limitMiB * 1024 * 1024);
  return { cgroup, nodeOptions: cgroup ? PRODUCTION_NODE_OPTIONS : nodeOptionsOutsideCgroup(limitMiB) };
}

/** The shipped NODE_OPTIONS with the old space the percentage would take of `limitMiB`, as a size. */
export function nodeOptionsOutsideCgroup(limitMiB: number): string {
  const share = /--max-old-space-size-percentage=(\d+)/.exec(PRODUCTION_NODE_OPTIONS);
  if (!share) return PRODUCTION_NODE_OPTIONS;
  return PRODUCTION_NODE_OPTIONS.replace(
    share[0],
    `--max-old-space-size=${Math.floor((limitMiB * Number(share[1])) / 100)}`,
  );
}

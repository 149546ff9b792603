/**
 * The memory floor of our runtime, measured beside the controllers in the same run: a Node process that
 * does nothing, and one that only loads @kubernetes/client-node (its 2,700 generated model modules load
 * with any API class), both with the V8 flags ours ships with. No controller written on this stack can
 * go below the second figure; the upstream controller (Go) has no such floor.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { PRODUCTION_NODE_OPTIONS } from '../../src/cli/runtime-flags.ts';
import { memoryMB } from './proc.ts';

export interface RuntimeFloor {
  /** peak RSS of an idle Node process, MB */
  nodeMB: number;
  /** peak RSS of a Node process that has loaded @kubernetes/client-node, MB */
  clientNodeMB: number;
}

async function peakOf(script: string): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: 'ignore',
    env: { ...process.env, NODE_OPTIONS: PRODUCTION_NODE_OPTIONS },
  });
  try {
    await sleep(3000);
    return memoryMB(child.pid!).peak;
  } finally {
    child.kill('SIGKILL');
  }
}

export async function runtimeFloor(): Promise<RuntimeFloor> {
  const idle = 'setTimeout(() => {}, 60_000);';
  return {
    nodeMB: await peakOf(idle),
    clientNodeMB: await peakOf(`await import('@kubernetes/client-node'); ${idle}`),
  };
}

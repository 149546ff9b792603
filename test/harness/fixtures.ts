// Small generic fixtures for tests against the real control plane (no kubelet, no controllers).
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

export { createNode, type NodeFixture } from '../../src/devcluster/nodes.ts';

/** Deletes a Node; one that is already gone is fine (cleanup code calls this). */
export async function deleteNode(kc: k8s.KubeConfig, name: string): Promise<void> {
  try {
    await kc.makeApiClient(k8s.CoreV1Api).deleteNode({ name });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 404) throw err;
  }
}

/** Creates a namespace named `<prefix>-<random>` and returns its name. It never finishes deleting here. */
export async function uniqueNamespace(kc: k8s.KubeConfig, prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name } } });
  return name;
}

export interface WaitOptions {
  /** what we were waiting for, for the error */
  message: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls fn until it returns a truthy value and returns that value. A throw counts as "not yet".
 * On timeout, throws with the message and the last value (or error) seen.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } | undefined;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  last ??= { value: undefined };
  const seen =
    'error' in last ? `last error: ${describeError(last.error)}` : `last value: ${inspect(last.value, { depth: 4 })}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.message} (${seen})`);
}

function describeError(err: unknown): string {
  // duck-typed: errors from node internals come from another realm under jest
  if (typeof err === 'object' && err !== null && 'message' in err) {
    const { name, message } = err as { name?: unknown; message: unknown };
    return `${String(name ?? 'Error')}: ${String(message)}`;
  }
  return inspect(err, { depth: 3 });
}

/**
 * client-node plumbing. client-node 2.0.1 builds a new undici Agent for every request (see
 * KubeConfig.createDispatcher), so no connection is ever reused: each request pays a TLS handshake and
 * leaves an idle socket behind, which under a burst costs CPU and hundreds of MB. We memoise the
 * dispatcher per TLS identity and bound the connections, as client-go's transport does.
 */
import * as k8s from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';

const MAX_CONNECTIONS = 32;

type AgentOptions = import('node:https').AgentOptions;
type CreateDispatcher = (cluster: k8s.Cluster | null, agentOptions: AgentOptions) => Dispatcher | undefined;

/** Make every API client of this KubeConfig share one pooled connection set per server and identity. */
const POOLED = Symbol('lbprovisioner.pooled');

export function withConnectionPool(kc: k8s.KubeConfig): k8s.KubeConfig {
  const marked = kc as unknown as Record<symbol, boolean>;
  if (marked[POOLED]) return kc;
  marked[POOLED] = true;
  // createDispatcher is private in client-node's types; it is the one place requests get their agent
  const target = kc as unknown as { createDispatcher: CreateDispatcher };
  const original = target.createDispatcher.bind(kc);
  const agents = new Map<string, Dispatcher>();
  target.createDispatcher = (cluster, agentOptions) => {
    if (cluster?.proxyUrl) return original(cluster, agentOptions);
    const identity = createHash('sha256')
      .update(JSON.stringify([cluster?.server, agentOptions.rejectUnauthorized, agentOptions.servername]))
      .update(String(agentOptions.ca ?? ''))
      .update(String(agentOptions.cert ?? ''))
      .update(String(agentOptions.key ?? ''))
      .digest('hex');
    let agent = agents.get(identity);
    if (!agent) {
      const opts = kc.createDispatcherOptions(cluster, agentOptions);
      if (opts.type !== 'agent') return original(cluster, agentOptions);
      // a rotated client certificate is a new identity: drop the old pool
      for (const old of agents.values()) void old.close();
      agents.clear();
      agent = new Agent({ connect: opts.connect, connections: MAX_CONNECTIONS });
      agents.set(identity, agent);
    }
    return agent;
  };
  return kc;
}

export function loadKubeConfig(path: string | undefined): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return withConnectionPool(kc);
}

/**
 * Per-request options that abort the request with `signal` (client-node has no timeout of its own: a
 * request to an apiserver that stopped answering waits as long as the TCP connection lives).
 */
export function abortWith(signal: AbortSignal): k8s.ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new k8s.Observable(Promise.resolve(context));
        },
        post: (response) => new k8s.Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

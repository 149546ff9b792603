/**
 * client-node plumbing for its typed clients (the operator commands; `run` talks through transport.ts).
 * client-node 2.0.1 builds a new undici Agent for every request (see
 * KubeConfig.createDispatcher), so no connection is ever reused: each request pays a TLS handshake and
 * leaves an idle socket behind, which under a burst costs CPU and hundreds of MB. We memoise the
 * dispatcher per TLS identity and bound the connections, as client-go's transport does. The connections speak
 * HTTP/1.1 (see below for why not HTTP/2).
 */
import * as k8s from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import { MAX_CONNECTIONS, sameIdentity, sharedSecureContext, type Identity } from './transport.ts';

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
  // one pool at a time: the identity it was made for, compared byte for byte (client-node decodes the
  // credentials afresh for every request; a comparison is a memcmp, where hashing them cost CPU per request)
  let pool: { identity: Identity; agent: Dispatcher } | undefined;
  target.createDispatcher = (cluster, agentOptions) => {
    if (cluster?.proxyUrl) return original(cluster, agentOptions);
    const identity: Identity = [
      cluster?.server,
      agentOptions.rejectUnauthorized,
      agentOptions.servername,
      agentOptions.ca,
      agentOptions.cert,
      agentOptions.key,
    ];
    if (pool && sameIdentity(pool.identity, identity)) return pool.agent;
    const opts = kc.createDispatcherOptions(cluster, agentOptions);
    if (opts.type !== 'agent') return original(cluster, agentOptions);
    // a rotated client certificate is a new identity: drop the old pool
    if (pool) void pool.agent.close();
    // HTTP/1.1: undici 8 offers HTTP/2 by default, which puts every request and every watch on one
    // connection through Node's http2 session. In a burst of 1000 Services that made each patch's round
    // trip about 18 ms against the apiserver's own 6.5 (its audit log), so 8 workers fell behind the creates
    // and Services waited about 1 s in the queue; with a connection per request in flight the same burst
    // waits 40-100 ms and uses less CPU (bench/controllers.ts, README "Against the anchors")
    const connect = { ...opts.connect, secureContext: sharedSecureContext(opts.connect) };
    pool = { identity, agent: new Agent({ connect, connections: MAX_CONNECTIONS, allowH2: false }) };
    return pool.agent;
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

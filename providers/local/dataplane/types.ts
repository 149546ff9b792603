/**
 * The proxy data plane's back-end contract. A back end receives the full desired state of every Service on
 * each apply (idempotent, like a level-triggered controller), so a restart or a missed update converges.
 * Which targets are listed is decided above it (health checks, fail open/closed): a back end only forwards.
 */

export type ProxyProtocol = 'TCP' | 'UDP';

export interface ProxyTarget {
  /** the node name (for logs and status) */
  name: string;
  /** addresses of the node; a VIP of one family uses the target's address of that family */
  addresses: string[];
}

export interface ProxyPort {
  protocol: ProxyProtocol;
  port: number;
  nodePort: number;
  /** the targets traffic to this port goes to now; empty means refuse (fail closed) */
  targets: ProxyTarget[];
}

export interface ProxyAffinity {
  type: 'None' | 'ClientIP';
  timeoutSeconds: number;
}

export interface ProxyService {
  /** namespace/name */
  key: string;
  vips: string[];
  ports: ProxyPort[];
  /** CIDRs allowed to connect; empty means everyone */
  sourceRanges: string[];
  affinity: ProxyAffinity;
  /** send a PROXY protocol v2 header to the target (userspace back end only) */
  proxyProtocol: boolean;
}

export interface ProxyBackend {
  readonly name: 'nftables' | 'userspace';
  /** make the forwarding match `services` exactly (nothing else of ours left); idempotent */
  apply(services: ProxyService[]): Promise<void>;
  /** stop forwarding processes; nftables rules stay in place so a restart keeps traffic flowing */
  close(): Promise<void>;
  /** uninstall: remove everything of ours from the host (our nftables table) */
  destroy?(): Promise<void>;
}

/** The small logger surface we need (pino's methods fit it). */
export interface DataplaneLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: DataplaneLogger = { info() {}, warn() {}, error() {} };

/** The address family of an IP literal. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/** The target's address in one family, if it has one. */
export function addressIn(target: ProxyTarget, family: 4 | 6): string | undefined {
  return target.addresses.find((a) => familyOf(a) === family);
}

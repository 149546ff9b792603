/**
 * Attribution of apiserver requests to controllers, from the apiserver's audit log (JSON lines, one
 * audit.k8s.io/v1 Event per stage): who (user, user agent) made which request (verb, resource) when. The
 * functions read lines and are pure; AuditLog tails the file for the benchmark and the chaos soak.
 */
import { closeSync, mkdtempSync, openSync, readSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface AuditRequest {
  auditID: string;
  user: string;
  userAgent: string;
  verb: string;
  /** resource with its API group unless core, and subresource: "services/status", "leases.coordination.k8s.io" */
  resource: string;
  namespace?: string;
  name?: string;
  code?: number;
  /** the apiserver's message for a failed request */
  message?: string;
  /** requestReceivedTimestamp, ms since the epoch */
  receivedMs: number;
}

interface AuditEvent {
  auditID?: string;
  verb?: string;
  requestURI?: string;
  userAgent?: string;
  user?: { username?: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number; message?: string };
  requestReceivedTimestamp?: string;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export function isWrite(verb: string): boolean {
  return WRITE_VERBS.has(verb);
}

/** One audit log line -> the request it describes; undefined for a line that is not an audit event. */
export function parseAuditLine(line: string): AuditRequest | undefined {
  if (!line.startsWith('{')) return undefined;
  let e: AuditEvent;
  try {
    e = JSON.parse(line) as AuditEvent;
  } catch {
    return undefined;
  }
  if (!e.auditID || !e.verb || !e.requestReceivedTimestamp) return undefined;
  const ref = e.objectRef;
  const base = ref?.resource
    ? `${ref.resource}${ref.apiGroup ? `.${ref.apiGroup}` : ''}${ref.subresource ? `/${ref.subresource}` : ''}`
    : (e.requestURI?.split('?')[0] ?? '');
  return {
    auditID: e.auditID,
    user: e.user?.username ?? '',
    userAgent: e.userAgent ?? '',
    verb: e.verb,
    resource: base,
    ...(ref?.namespace ? { namespace: ref.namespace } : {}),
    ...(ref?.name ? { name: ref.name } : {}),
    ...(e.responseStatus?.code !== undefined ? { code: e.responseStatus.code } : {}),
    ...(e.responseStatus?.message ? { message: e.responseStatus.message } : {}),
    receivedMs: Date.parse(e.requestReceivedTimestamp),
  };
}

/**
 * Requests from audit lines, each once: a request logs one line per stage (ResponseStarted for a watch,
 * ResponseComplete), so the later stages of an ID already seen are dropped.
 */
export function auditRequests(lines: Iterable<string>, seen = new Set<string>()): AuditRequest[] {
  const out: AuditRequest[] = [];
  for (const line of lines) {
    const r = parseAuditLine(line);
    if (!r || seen.has(r.auditID)) continue;
    seen.add(r.auditID);
    out.push(r);
  }
  return out;
}

export interface RequestFilter {
  user: string;
  /** only requests received in [fromMs, toMs) */
  fromMs?: number;
  toMs?: number;
}

export function requestsOf(requests: readonly AuditRequest[], f: RequestFilter): AuditRequest[] {
  return requests.filter(
    (r) =>
      r.user === f.user &&
      (f.fromMs === undefined || r.receivedMs >= f.fromMs) &&
      (f.toMs === undefined || r.receivedMs < f.toMs),
  );
}

export interface RequestTally {
  total: number;
  /** "verb resource" -> count, e.g. "patch services/status" */
  byRequest: Record<string, number>;
  byVerb: Record<string, number>;
  /** writes to Services (the object and its status) */
  serviceWrites: number;
  /** writes of Events (core and events.k8s.io) */
  eventWrites: number;
  /** every other write (leases, pool status, ...) */
  otherWrites: number;
  /** user agents seen */
  userAgents: string[];
}

export function tally(requests: readonly AuditRequest[]): RequestTally {
  const byRequest: Record<string, number> = {};
  const byVerb: Record<string, number> = {};
  const agents = new Set<string>();
  let serviceWrites = 0;
  let eventWrites = 0;
  let otherWrites = 0;
  for (const r of requests) {
    const key = `${r.verb} ${r.resource}`;
    byRequest[key] = (byRequest[key] ?? 0) + 1;
    byVerb[r.verb] = (byVerb[r.verb] ?? 0) + 1;
    agents.add(r.userAgent);
    if (!isWrite(r.verb)) continue;
    if (r.resource === 'services' || r.resource.startsWith('services/')) serviceWrites++;
    else if (r.resource === 'events' || r.resource === 'events.events.k8s.io') eventWrites++;
    else otherWrites++;
  }
  return {
    total: requests.length,
    byRequest,
    byVerb,
    serviceWrites,
    eventWrites,
    otherWrites,
    userAgents: [...agents].sort(),
  };
}

/** Reads the apiserver's audit log as it grows; keeps every request seen so far. */
export class AuditLog {
  readonly requests: AuditRequest[] = [];
  private offset = 0;
  private pending = '';
  private readonly seen = new Set<string>();
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** Reads what the apiserver appended since the last call; returns every request so far. */
  catchUp(): AuditRequest[] {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return this.requests;
    }
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        const lines = (this.pending + buf.toString('utf8', 0, n)).split('\n');
        this.pending = lines.pop() ?? '';
        for (const r of auditRequests(lines, this.seen)) this.requests.push(r);
      }
    } finally {
      closeSync(fd);
    }
    return this.requests;
  }
}

/**
 * An audit log for the dev apiserver: a policy with these rules (the RequestReceived stage left out) in a
 * new temporary directory, and the apiserver flags that write the log there, unrotated (AuditLog follows one
 * file).
 */
export function auditLogFor(prefix: string, rules: readonly Record<string, unknown>[]) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const policy = join(dir, 'policy.json');
  writeFileSync(
    policy,
    JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules }),
  );
  const path = join(dir, 'audit.log');
  const apiserverArgs = [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${path}`,
    '--audit-log-maxsize=100000',
    '--audit-log-maxbackup=0',
  ];
  return { dir, path, apiserverArgs };
}

/**
 * Attribution of apiserver requests to controllers, from the apiserver's audit log (JSON lines, one
 * audit.k8s.io/v1 Event per stage): who (user, user agent) made which request (verb, resource) when. Pure:
 * the benchmark reads the file, these functions read the lines.
 */

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
  responseStatus?: { code?: number };
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

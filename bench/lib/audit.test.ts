import { describe, expect, it } from '@jest/globals';
import { auditRequests, parseAuditLine, requestsOf, tally } from './audit.ts';

/** An audit line as kube-apiserver writes it (audit.k8s.io/v1, level Metadata). */
function line(o: {
  id: string;
  stage?: string;
  verb: string;
  user: string;
  agent?: string;
  resource?: string;
  subresource?: string;
  apiGroup?: string;
  at: string;
  uri?: string;
}): string {
  return JSON.stringify({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: o.id,
    stage: o.stage ?? 'ResponseComplete',
    requestURI: o.uri ?? '/api/v1/namespaces/b/services/svc-0',
    verb: o.verb,
    user: { username: o.user, groups: ['system:authenticated'] },
    sourceIPs: ['127.0.0.1'],
    userAgent: o.agent ?? 'node',
    ...(o.resource
      ? {
          objectRef: {
            resource: o.resource,
            namespace: 'b',
            name: 'svc-0',
            apiVersion: 'v1',
            ...(o.subresource ? { subresource: o.subresource } : {}),
            ...(o.apiGroup ? { apiGroup: o.apiGroup } : {}),
          },
        }
      : {}),
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: o.at,
    stageTimestamp: o.at,
  });
}

const OURS = 'system:serviceaccount:lb-provisioner:lb-provisioner';
const UPSTREAM = 'system:serviceaccount:bench:upstream';

describe('audit log attribution', () => {
  it('reads who did what to which resource, and when (microsecond timestamps)', () => {
    const r = parseAuditLine(
      line({
        id: 'a1',
        verb: 'patch',
        user: OURS,
        agent: 'lb-provisioner',
        resource: 'services',
        subresource: 'status',
        at: '2026-05-01T10:00:00.123456Z',
      }),
    );
    expect(r).toEqual({
      auditID: 'a1',
      user: OURS,
      userAgent: 'lb-provisioner',
      verb: 'patch',
      resource: 'services/status',
      namespace: 'b',
      name: 'svc-0',
      code: 200,
      receivedMs: Date.UTC(2026, 4, 1, 10, 0, 0, 123),
    });
  });

  it('names a resource of a group with its group, and a non-resource request by its path', () => {
    expect(
      parseAuditLine(
        line({
          id: 'l',
          verb: 'update',
          user: OURS,
          resource: 'leases',
          apiGroup: 'coordination.k8s.io',
          at: '2026-05-01T10:00:00Z',
        }),
      )?.resource,
    ).toBe('leases.coordination.k8s.io');
    expect(
      parseAuditLine(
        line({ id: 'm', verb: 'get', user: OURS, uri: '/version?timeout=32s', at: '2026-05-01T10:00:00Z' }),
      )?.resource,
    ).toBe('/version');
  });

  it('counts a watch once although it logs ResponseStarted and later ResponseComplete', () => {
    const w = { id: 'w1', verb: 'watch', user: UPSTREAM, resource: 'services', at: '2026-05-01T10:00:00Z' };
    const reqs = auditRequests([line({ ...w, stage: 'ResponseStarted' }), line({ ...w, stage: 'ResponseComplete' })]);
    expect(reqs).toHaveLength(1);
  });

  it('skips lines that are not audit events (a torn last line, blank lines)', () => {
    expect(auditRequests(['', '{"kind":"Event","auditID":', 'not json'])).toEqual([]);
  });

  it('attributes by user and time window, and splits writes into Service, Event and other writes', () => {
    const at = (s: number) => `2026-05-01T10:00:${String(s).padStart(2, '0')}Z`;
    const reqs = auditRequests([
      line({ id: '1', verb: 'patch', user: OURS, resource: 'services', at: at(1) }),
      line({ id: '2', verb: 'patch', user: OURS, resource: 'services', subresource: 'status', at: at(2) }),
      line({ id: '3', verb: 'create', user: OURS, resource: 'events', apiGroup: 'events.k8s.io', at: at(3) }),
      line({ id: '4', verb: 'update', user: OURS, resource: 'leases', apiGroup: 'coordination.k8s.io', at: at(4) }),
      line({ id: '5', verb: 'list', user: OURS, resource: 'services', at: at(5) }),
      line({ id: '6', verb: 'patch', user: UPSTREAM, resource: 'services', at: at(2) }),
      line({ id: '7', verb: 'patch', user: OURS, resource: 'services', at: at(9) }),
    ]);
    const t = tally(requestsOf(reqs, { user: OURS, fromMs: Date.parse(at(1)), toMs: Date.parse(at(9)) }));
    expect(t.total).toBe(5);
    expect(t.serviceWrites).toBe(2);
    expect(t.eventWrites).toBe(1);
    expect(t.otherWrites).toBe(1);
    expect(t.byRequest).toEqual({
      'patch services': 1,
      'patch services/status': 1,
      'create events.events.k8s.io': 1,
      'update leases.coordination.k8s.io': 1,
      'list services': 1,
    });
    expect(t.byVerb).toEqual({ patch: 2, create: 1, update: 1, list: 1 });
  });
});

/**
 * A stateful fake of Azure Resource Manager for Microsoft.Network load balancers, backend pools, public
 * IPs and network security groups, as a real HTTPS server (the SDK refuses bearer tokens over plain
 * HTTP), so the real @azure/arm-network client, in this process or in a controller process of its own,
 * talks to it unchanged. What it does as ARM does:
 *
 *  - validates request bodies against the SDK's model schema (sdk-schema.ts) and ARM's own checks
 *    (arm-rules.ts), answering 400 with an ARM error code;
 *  - a new ETag on every write (a backend-pool write renews the load balancer's), 412 to a stale If-Match
 *    or an If-None-Match: * on an existing resource, and a record of every write's If-Match;
 *  - PUT and DELETE as long-running operations (Azure-AsyncOperation and Location), a 409
 *    AnotherOperationInProgress while one runs on the same resource;
 *  - the fake authority's token and OpenID endpoints (authority.ts); ARM calls need a token it issued.
 *
 * Tests inject faults (429 with Retry-After, 409, 5xx, failed or superseded operations, slow answers,
 * no answer at all, an answer held after the work is done), one by one (`inject`) or by a hook that
 * chooses for every call (`faultHook`: the chaos soak's 20%), and fixed latencies (the benchmark).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCerts } from '../../src/devcluster/certs.ts';
import { checkLoadBalancer, checkPublicIp, checkSecurityGroup, type ArmRejection } from './arm-rules.ts';
import { FakeAuthority, type AuthorityOptions } from './authority.ts';
import { SdkSchema } from './sdk-schema.ts';
import { ArmState, type Json, type Stored } from './state.ts';

export const API_VERSION = '2026-01-01';
const T = {
  lb: 'Microsoft.Network/loadBalancers',
  pip: 'Microsoft.Network/publicIPAddresses',
  nsg: 'Microsoft.Network/networkSecurityGroups',
} as const;
const TYPES: Record<string, { type: string; model: string }> = {
  loadbalancers: { type: T.lb, model: 'LoadBalancer' },
  publicipaddresses: { type: T.pip, model: 'PublicIPAddress' },
  networksecuritygroups: { type: T.nsg, model: 'NetworkSecurityGroup' },
};

export interface Fault {
  method?: string;
  /** matched against the path (no query) */
  path?: RegExp;
  /** how many requests it hits (default 1) */
  times?: number;
  /** answer this instead of the real thing */
  status?: number;
  code?: string;
  retryAfterSeconds?: number;
  /** answer only after this long (then normally, unless status is set) */
  delayMs?: number;
  /** run when the request arrives, before it is handled (an outside writer racing this one) */
  before?: () => void;
  /** accept the write, but its long-running operation ends like this (and changes nothing) */
  operation?: { status: 'Failed' | 'Canceled'; code: string };
  /** never answer: the request stays open until the client gives up or the fake stops */
  hang?: boolean;
  /** do the work, then hold the answer until this settles (a client killed while its call is in flight) */
  answerAfter?: () => Promise<void>;
}

export interface Call {
  method: string;
  path: string;
  status: number;
  ifMatch?: string;
  ifNoneMatch?: string;
  at: number;
  /** the ARM error code and message of a refused request */
  error?: string;
  /** a load balancer's frontend count after a PUT it accepted (how many Services a write carried) */
  frontends?: number;
}

export interface FakeArmOptions extends Partial<AuthorityOptions> {
  subscriptionId?: string;
  resourceGroups?: string[];
  location?: string;
  /** an extra token the ARM side accepts (in-process tests with a static credential) */
  staticToken?: string;
  latency?: { readMs?: number; writeMs?: number; operationMs?: number };
}

interface Operation {
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  doneAt: number;
  finish: 'Succeeded' | 'Failed' | 'Canceled';
  error?: { code: string; message: string };
  onDone(): void;
}

export class FakeArm {
  readonly state = new ArmState();
  readonly schema = new SdkSchema();
  readonly authority: FakeAuthority;
  readonly calls: Call[] = [];
  /** members requests carried that the definitions do not have (ARM ignores them; our code should send none) */
  readonly unknownProperties: string[] = [];
  readonly faults: Fault[] = [];
  /** requests a `hang` fault left without an answer, until their client gives up */
  readonly hung = new Set<ServerResponse>();
  readonly subscriptionId: string;
  readonly location: string;
  readonly resourceGroups: Set<string>;
  readonly latency: { readMs: number; writeMs: number; operationMs: number };
  endpoint = '';
  caFile = '';
  caPem = '';
  private readonly ops = new Map<string, Operation>();
  private readonly staticToken: string | undefined;
  private server: Server | undefined;
  private dir = '';

  constructor(o: FakeArmOptions = {}) {
    this.subscriptionId = o.subscriptionId ?? '00000000-0000-0000-0000-0000000000a1';
    this.location = o.location ?? 'westeurope';
    this.resourceGroups = new Set((o.resourceGroups ?? ['rg-lbp']).map((g) => g.toLowerCase()));
    this.staticToken = o.staticToken;
    this.latency = { readMs: 0, writeMs: 0, operationMs: 0, ...o.latency };
    this.authority = new FakeAuthority({
      tenantId: o.tenantId ?? '00000000-0000-0000-0000-0000000000b2',
      clientId: o.clientId ?? '00000000-0000-0000-0000-0000000000c3',
      clientSecret: o.clientSecret ?? 'not-a-real-secret',
    });
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'fake-arm-'));
    const certs = await generateCerts(this.dir);
    this.caFile = certs.caCert;
    this.caPem = certs.caPem;
    const [key, cert] = await Promise.all([readFile(certs.servingKey), readFile(certs.servingCert)]);
    // a client that goes away mid-request (an aborted poll, a stopped controller) is no failure of the fake
    this.server = createServer({ key, cert }, (req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** The ID of a resource in the fake's subscription. */
  id(
    rg: string,
    type: 'loadBalancers' | 'publicIPAddresses' | 'networkSecurityGroups' | 'virtualNetworks',
    name: string,
  ): string {
    return `/subscriptions/${this.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/${type}/${name}`;
  }

  /** Writes (PUT, DELETE) so far, optionally only those whose path matches. */
  writes(path?: RegExp): Call[] {
    return this.calls.filter((c) => c.method !== 'GET' && c.method !== 'POST' && (!path || path.test(c.path)));
  }

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Asked for every ARM call no injected fault matches (not the authority's): a fault, or none. */
  faultHook: ((method: string, path: string) => Fault | undefined) | undefined;

  // ---- HTTP ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.authority.handle(req, res, this.endpoint, body)) return;
    const url = new URL(req.url ?? '/', this.endpoint);
    const method = req.method ?? 'GET';
    const call: Call = { method, path: url.pathname, status: 0, at: Date.now() };
    const ifMatch = header(req, 'if-match');
    const ifNoneMatch = header(req, 'if-none-match');
    if (ifMatch) call.ifMatch = ifMatch;
    if (ifNoneMatch) call.ifNoneMatch = ifNoneMatch;
    this.calls.push(call);
    const answering: { hold?: () => Promise<void> } = {};
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID(), ...headers });
        res.end(json === undefined ? undefined : JSON.stringify(json));
      };
      // send comes once the work is done: a held answer leaves the client unaware that it was
      if (answering.hold) void answering.hold().then(answer, answer);
      else answer();
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) => {
      call.error = `${code}: ${message}`;
      send(status, { error: { code, message } }, headers);
    };

    const token = /^Bearer (.+)$/.exec(header(req, 'authorization') ?? '')?.[1];
    if (!token || (!this.authority.tokens.has(token) && token !== this.staticToken))
      return error(
        401,
        'AuthenticationFailed',
        'Authentication failed: the access token is missing or was not issued by the authority.',
      );
    const fault = this.takeFault(method, url.pathname);
    fault?.before?.();
    if (fault?.hang) {
      this.hung.add(res);
      res.once('close', () => this.hung.delete(res));
      return;
    }
    if (fault?.answerAfter) answering.hold = fault.answerAfter;
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.status)
      return error(
        fault.status,
        fault.code ?? 'InternalServerError',
        `injected: ${fault.code ?? fault.status}`,
        fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {},
      );
    await sleep(method === 'GET' ? this.latency.readMs : this.latency.writeMs);
    if (url.searchParams.get('api-version') === null)
      return error(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );

    const op =
      /^\/subscriptions\/[^/]+\/providers\/Microsoft\.Network\/locations\/[^/]+\/(operations|operationResults)\/([^/]+)$/i.exec(
        url.pathname,
      );
    if (op) return this.operation(op[1]!.toLowerCase(), op[2]!, send, error, url);
    const m =
      /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?\/providers\/Microsoft\.Network\/([^/]+)(?:\/([^/]+)(?:\/(backendAddressPools)\/([^/]+))?)?$/i.exec(
        url.pathname,
      );
    if (!m || !TYPES[m[3]!.toLowerCase()]) return error(404, 'NotFound', `no route for ${url.pathname}`);
    const [, sub, rg, typeSeg, name, child, childName] = m;
    if (sub !== this.subscriptionId) return error(404, 'SubscriptionNotFound', `subscription ${sub} not found`);
    if (rg && !this.resourceGroups.has(rg.toLowerCase()))
      return error(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    const { type, model } = TYPES[typeSeg!.toLowerCase()]!;
    if (!name) {
      if (method !== 'GET') return error(405, 'MethodNotAllowed', method);
      const items = this.state
        .byType(type)
        .filter((r) => !rg || r.id.toLowerCase().includes(`/resourcegroups/${rg.toLowerCase()}/`));
      return send(200, { value: items.map((r) => r.body) });
    }
    const id = `/subscriptions/${sub}/resourceGroups/${rg}/providers/${type}/${name}`;
    const rec = this.state.get(id);
    if (child) return this.pool(method, rec, id, childName!, body, ifMatch, send, error);
    if (method === 'GET')
      return rec
        ? send(200, rec.body)
        : error(404, 'ResourceNotFound', `The Resource '${type}/${name}' under resource group '${rg}' was not found.`);
    if (method === 'DELETE') return this.remove(rec, ifMatch, fault, send, error);
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const stale = this.precondition(rec, ifMatch, ifNoneMatch);
    if (stale) return error(412, 'PreconditionFailed', stale);
    if (rec && rec.busyUntil > Date.now())
      return error(
        409,
        'AnotherOperationInProgress',
        `Another operation on this or dependent resource is in progress. To retry later, use Retry-After.`,
        { 'Retry-After': '1' },
      );
    let parsed: Json;
    try {
      parsed = JSON.parse(body) as Json;
    } catch {
      return error(400, 'InvalidRequestFormat', 'Cannot parse the request.');
    }
    const rejection = this.validate(model, type, id, parsed);
    if (rejection) return error(400, rejection.code, rejection.message);
    const created = !rec;
    const before = rec ? structuredClone(rec) : undefined;
    const stored = this.state.put(id, type, stripReadOnly(parsed));
    if (type === T.lb)
      call.frontends = ((stored.body['properties'] as Json)['frontendIPConfigurations'] as Json[]).length;
    this.begin(stored, before, fault, send, created ? 201 : 200);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => (!f.method || f.method === method) && (!f.path || f.path.test(path)));
    if (i < 0) return this.faultHook?.(method, path);
    const f = this.faults[i]!;
    if (--f.times! <= 0) this.faults.splice(i, 1);
    return f;
  }

  private precondition(
    rec: Stored | undefined,
    ifMatch: string | undefined,
    ifNoneMatch: string | undefined,
  ): string | undefined {
    if (ifNoneMatch === '*' && rec) return 'The resource already exists (If-None-Match: *).';
    if (ifMatch && ifMatch !== '*' && ifMatch !== rec?.etag)
      return `The specified If-Match ${ifMatch} does not match the current ETag ${rec?.etag ?? '(none: the resource does not exist)'}.`;
    return undefined;
  }

  private validate(model: string, type: string, id: string, body: Json): ArmRejection | undefined {
    const issues = this.schema.validate(body, model);
    for (const i of issues.filter((x) => x.problem === 'unknown')) this.unknownProperties.push(i.message);
    const hard = issues.find((x) => x.problem !== 'unknown');
    if (hard) return { code: 'InvalidRequestFormat', message: hard.message };
    if (typeof body['location'] === 'string' && body['location'] !== this.location)
      return {
        code: 'LocationNotAvailableForResourceType',
        message: `location ${body['location']} is not ${this.location}`,
      };
    if (type === T.pip) return checkPublicIp(body);
    if (type === T.nsg) return checkSecurityGroup(body);
    const rejection = checkLoadBalancer(
      id,
      body,
      (pip) => this.state.get(pip) !== undefined,
      (s) => this.state.subnets.has(s.toLowerCase()),
    );
    if (rejection) return rejection;
    for (const fe of ((body['properties'] as Json | undefined)?.['frontendIPConfigurations'] as Json[] | undefined) ??
      []) {
      const fp = (fe['properties'] ?? {}) as Json;
      const pip = (fp['publicIPAddress'] as Json | undefined)?.['id'] as string | undefined;
      const holder = pip
        ? ((this.state.get(pip)?.body['properties'] as Json | undefined)?.['ipConfiguration'] as Json | undefined)?.[
            'id'
          ]
        : undefined;
      if (typeof holder === 'string' && !holder.toLowerCase().startsWith(`${id.toLowerCase()}/`))
        return { code: 'PublicIPAddressInUse', message: `public IP ${pip} is already used by ${holder}` };
      const subnet = (fp['subnet'] as Json | undefined)?.['id'];
      if (typeof subnet === 'string' && fp['privateIPAllocationMethod'] === 'Static') {
        const problem = this.state.privateAddressProblem(
          subnet,
          String(fp['privateIPAddress']),
          `${id}/frontendIPConfigurations/${String(fe['name'])}`,
        );
        if (problem) return { code: 'PrivateIPAddressInvalid', message: problem };
      }
    }
    return undefined;
  }

  /** Start a long-running operation for a stored write and answer with its headers. */
  private begin(
    rec: Stored,
    before: Stored | undefined,
    fault: Fault | undefined,
    send: (s: number, j?: unknown, h?: Record<string, string>) => void,
    status: number,
  ): void {
    const props = rec.body['properties'] as Json;
    props['provisioningState'] = 'Updating';
    rec.busyUntil = Date.now() + this.latency.operationMs;
    const opId = randomUUID();
    const finish = fault?.operation?.status ?? 'Succeeded';
    this.ops.set(opId, {
      status: 'InProgress',
      doneAt: rec.busyUntil,
      finish,
      ...(fault?.operation
        ? { error: { code: fault.operation.code, message: `injected: ${fault.operation.code}` } }
        : {}),
      onDone: () => {
        rec.busyUntil = 0;
        if (finish === 'Succeeded') props['provisioningState'] = 'Succeeded';
        else if (before) this.state.put(before.id, before.type, before.body);
        else this.state.remove(rec.id);
      },
    });
    send(status, rec.body, this.operationHeaders(opId));
  }

  private operationHeaders(opId: string): Record<string, string> {
    const base = `${this.endpoint}/subscriptions/${this.subscriptionId}/providers/Microsoft.Network/locations/${this.location}`;
    return {
      'Azure-AsyncOperation': `${base}/operations/${opId}?api-version=${API_VERSION}`,
      Location: `${base}/operationResults/${opId}?api-version=${API_VERSION}`,
    };
  }

  private operation(
    kind: string,
    opId: string,
    send: (s: number, j?: unknown, h?: Record<string, string>) => void,
    error: (s: number, c: string, m: string) => void,
    url: URL,
  ): void {
    const op = this.ops.get(opId);
    if (!op) return error(404, 'OperationNotFound', `operation ${opId} not found`);
    if (op.status === 'InProgress' && Date.now() >= op.doneAt) {
      op.status = op.finish;
      op.onDone();
    }
    if (kind === 'operationresults')
      return op.status === 'InProgress' ? send(202, undefined, { Location: url.toString() }) : send(204);
    send(200, {
      id: url.pathname,
      name: opId,
      status: op.status,
      ...(op.error && op.status !== 'Succeeded' ? { error: op.error } : {}),
    });
  }

  private remove(
    rec: Stored | undefined,
    ifMatch: string | undefined,
    fault: Fault | undefined,
    send: (s: number, j?: unknown, h?: Record<string, string>) => void,
    error: (s: number, c: string, m: string, h?: Record<string, string>) => void,
  ): void {
    if (!rec) return send(204);
    const stale = this.precondition(rec, ifMatch, undefined);
    if (stale) return error(412, 'PreconditionFailed', stale);
    if (rec.busyUntil > Date.now())
      return error(409, 'AnotherOperationInProgress', 'Another operation on this resource is in progress.', {
        'Retry-After': '1',
      });
    const holder = ((rec.body['properties'] as Json | undefined)?.['ipConfiguration'] as Json | undefined)?.['id'];
    if (rec.type === T.pip && holder)
      return error(
        400,
        'PublicIPAddressCannotBeDeleted',
        `Public IP address ${rec.id} can not be deleted since it is still allocated to resource ${String(holder)}.`,
      );
    (rec.body['properties'] as Json)['provisioningState'] = 'Deleting';
    rec.busyUntil = Date.now() + this.latency.operationMs;
    const opId = randomUUID();
    const finish = fault?.operation?.status ?? 'Succeeded';
    this.ops.set(opId, {
      status: 'InProgress',
      doneAt: rec.busyUntil,
      finish,
      ...(fault?.operation
        ? { error: { code: fault.operation.code, message: `injected: ${fault.operation.code}` } }
        : {}),
      onDone: () => {
        rec.busyUntil = 0;
        if (finish === 'Succeeded') this.state.remove(rec.id);
        else (rec.body['properties'] as Json)['provisioningState'] = 'Succeeded';
      },
    });
    send(202, undefined, this.operationHeaders(opId));
  }

  /** The backend-pool child API: a pool written alone; the load balancer's ETag changes with it. */
  private pool(
    method: string,
    lb: Stored | undefined,
    lbId: string,
    name: string,
    body: string,
    ifMatch: string | undefined,
    send: (s: number, j?: unknown, h?: Record<string, string>) => void,
    error: (s: number, c: string, m: string, h?: Record<string, string>) => void,
  ): void {
    if (!lb) return error(404, 'ResourceNotFound', `load balancer ${lbId} not found`);
    const props = lb.body['properties'] as Json;
    const pools = (props['backendAddressPools'] ?? []) as Json[];
    const i = pools.findIndex((p) => String(p['name']).toLowerCase() === name.toLowerCase());
    if (method === 'GET') return i < 0 ? error(404, 'NotFound', `pool ${name} not found`) : send(200, pools[i]);
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    if (ifMatch && ifMatch !== '*' && ifMatch !== lb.etag)
      return error(412, 'PreconditionFailed', `If-Match ${ifMatch} does not match ${lb.etag}`);
    if (lb.busyUntil > Date.now())
      return error(
        409,
        'AnotherOperationInProgress',
        'Another operation on this or dependent resource is in progress.',
        { 'Retry-After': '1' },
      );
    let parsed: Json;
    try {
      parsed = JSON.parse(body) as Json;
    } catch {
      return error(400, 'InvalidRequestFormat', 'Cannot parse the request.');
    }
    parsed['name'] = name;
    const candidate = structuredClone(lb.body);
    const cpools = ((candidate['properties'] as Json)['backendAddressPools'] ?? []) as Json[];
    if (i < 0) cpools.push(parsed);
    else cpools[i] = parsed;
    (candidate['properties'] as Json)['backendAddressPools'] = cpools;
    const rejection = this.validate('LoadBalancer', T.lb, lbId, stripReadOnly(candidate));
    if (rejection) return error(400, rejection.code, rejection.message);
    const stored = this.state.put(lbId, T.lb, candidate);
    const pool = ((stored.body['properties'] as Json)['backendAddressPools'] as Json[]).find((p) => p['name'] === name);
    const opId = randomUUID();
    stored.busyUntil = Date.now() + this.latency.operationMs;
    this.ops.set(opId, {
      status: 'InProgress',
      doneAt: stored.busyUntil,
      finish: 'Succeeded',
      onDone: () => {
        stored.busyUntil = 0;
      },
    });
    send(i < 0 ? 201 : 200, pool, this.operationHeaders(opId));
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

/** What ARM keeps from a request body: the writable members (read-only ones in a request are ignored). */
function stripReadOnly(body: Json): Json {
  const copy = structuredClone(body);
  delete copy['etag'];
  const p = copy['properties'] as Json | undefined;
  if (p) {
    delete p['provisioningState'];
    delete p['resourceGuid'];
  }
  return copy;
}

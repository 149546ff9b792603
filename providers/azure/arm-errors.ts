/**
 * What an ARM failure means for us, in one place: the writer retries a 412 itself, pauses the
 * subscription on a 429, requeues a Service whose write met another operation, bisects a rejected
 * coalesced PUT, and reports the rest.
 */
export type ArmFailure =
  | { kind: 'not-found' }
  | { kind: 'precondition' }
  | { kind: 'throttled'; retryAfterMs: number }
  | { kind: 'busy'; code: string }
  | { kind: 'rejected'; code: string; message: string }
  | { kind: 'other'; status?: number; code?: string; message: string };

interface RestLike {
  statusCode?: number;
  code?: string;
  message?: string;
  details?: { error?: { code?: string; message?: string } };
  response?: { headers?: { get(name: string): string | undefined } };
}

/** ARM codes that mean "another write got there first; try again shortly". */
const BUSY_CODES = /^(AnotherOperationInProgress|RetryableError|Canceled.*|OperationPreempted|.*Superseded.*)$/i;

export function classifyArmError(err: unknown): ArmFailure {
  const e = (err ?? {}) as RestLike;
  const status = e.statusCode;
  const code = e.details?.error?.code ?? e.code ?? '';
  const message = e.details?.error?.message ?? e.message ?? String(err);
  if (status === 404) return { kind: 'not-found' };
  if (status === 412) return { kind: 'precondition' };
  if (status === 429) return { kind: 'throttled', retryAfterMs: retryAfterMs(e.response?.headers?.get('retry-after')) };
  // a canceled long-running operation surfaces as the poller's "Operation was canceled"; a failed one carries
  // ARM's code in its message ("The long-running operation has failed. AnotherOperationInProgress. ...")
  if (
    BUSY_CODES.test(code) ||
    /operation was canceled|superseded|anotheroperationinprogress|another operation/i.test(message)
  )
    return { kind: 'busy', code: code || 'Canceled' };
  if (status === 400) return { kind: 'rejected', code, message };
  return { kind: 'other', ...(status !== undefined ? { status } : {}), ...(code ? { code } : {}), message };
}

/** Retry-After in seconds or as an HTTP date; 10 s when absent (ARM's usual hint). */
export function retryAfterMs(header: string | undefined): number {
  if (header === undefined) return 10_000;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? 10_000 : Math.max(0, at - Date.now());
}

/** A short text for logs and conditions: never headers, never tokens. */
export function describeArmError(err: unknown): string {
  const f = classifyArmError(err);
  switch (f.kind) {
    case 'not-found':
      return 'not found (404)';
    case 'precondition':
      return 'the resource changed since it was read (412)';
    case 'throttled':
      return `throttled (429), retry after ${Math.round(f.retryAfterMs / 1000)} s`;
    case 'busy':
      return `another operation is in progress (${f.code})`;
    case 'rejected':
      return `${f.message} (${f.code || '400'})`;
    case 'other':
      return `${f.message}${f.status ? ` (${f.status}${f.code ? ` ${f.code}` : ''})` : ''}`;
  }
}

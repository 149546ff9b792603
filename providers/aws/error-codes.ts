/** AWS error codes, read off an SDK error by value (never instanceof: jest's module realms differ). Pure. */

/** AWS error code of a failed call (the SDK puts it in `name`). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { name?: unknown; Code?: unknown };
  return typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : undefined;
}

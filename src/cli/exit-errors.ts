/**
 * How a command ends when it cannot go on. Both print one line without a stack trace: the message says
 * what happened and, for the first kind, what to change.
 */

/** A condition the user can fix (the Lease namespace is missing and can't be created, a port is taken): exit 2. */
export class UserFixableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserFixableError';
  }
}

/** The process can't go on for a reason outside the user's input (the apiserver stayed unreachable): exit 1. */
export class RunFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFailure';
  }
}

/**
 * Starting the dev control plane failed: a missing Go or Go module proxy is the user's to fix; a component
 * that would not start is a run-time failure. Either way one message, no stack trace.
 */
export function controlPlaneFailure(err: unknown): unknown {
  const e = err as { name?: unknown; message?: unknown; needsGo?: unknown } | undefined;
  if (e?.name === 'ControlPlaneBuildError')
    return e.needsGo === true ? new UserFixableError(String(e.message)) : new RunFailure(String(e.message));
  if (e?.name === 'ComponentStartError') return new RunFailure(String(e.message));
  return err;
}

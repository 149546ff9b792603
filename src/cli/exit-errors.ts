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

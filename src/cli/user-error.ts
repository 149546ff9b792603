/**
 * A condition the user can fix, found at run time (the Lease namespace is missing and can't be created,
 * another instance holds the host): the CLI prints the message, which names the fix, on one line and
 * exits 2, without a stack trace.
 */
export class UserFixableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserFixableError';
  }
}

/**
 * Typed errors every part of the project raises and one place maps (src/controller/errors.ts). They live
 * apart from the provider contract so the pure model and the contract can both import them without a
 * circle. Each maps once to an Event reason and a condition reason. Compare by `name` or shape, never with
 * instanceof: jest's module realms differ.
 */
export class ProviderError extends Error {
  /** the CamelCase reason used for the Event and the condition */
  readonly reason: string;
  /** terminal errors are not retried until the Service changes */
  readonly terminal: boolean;
  constructor(name: string, reason: string, message: string, terminal: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = name;
    this.reason = reason;
    this.terminal = terminal;
  }
}

/** The Service asks for something invalid (an annotation, a port without nodePort...). Terminal. */
export class InvalidSpecError extends ProviderError {
  constructor(message: string, reason = 'InvalidSpec') {
    super('InvalidSpecError', reason, message, true);
  }
}

/** An annotation value cannot be parsed or is not accepted. Terminal. */
export class InvalidAnnotationError extends ProviderError {
  readonly annotation: string;
  constructor(annotation: string, message: string) {
    super('InvalidAnnotationError', 'InvalidAnnotation', `annotation ${annotation}: ${message}`, true);
    this.annotation = annotation;
  }
}

/** Try again after a delay the provider knows (throttling, a long-running operation, a pool that may free up). */
export class RetryAfterError extends ProviderError {
  readonly delayMs: number;
  constructor(message: string, delayMs: number, reason = 'RetryAfter', options?: { cause?: unknown }) {
    super('RetryAfterError', reason, message, false, options);
    this.delayMs = delayMs;
  }
}

/** A cloud quota or pool is exhausted. Retried with backoff (something may be freed). */
export class QuotaExceededError extends ProviderError {
  constructor(message: string, reason = 'QuotaExceeded') {
    super('QuotaExceededError', reason, message, false);
  }
}

/** The load balancer exists but belongs to someone else (another cluster, another Service). Terminal. */
export class NotOwnedError extends ProviderError {
  constructor(message: string) {
    super('NotOwnedError', 'NotOwned', message, true);
  }
}

export function isProviderError(err: unknown): err is ProviderError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as ProviderError).reason === 'string' &&
    typeof (err as ProviderError).terminal === 'boolean'
  );
}

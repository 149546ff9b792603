/** The one logger: pino JSON lines. Secrets never reach a line: credential-shaped keys are redacted. */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const REDACT = [
  '*.token',
  '*.password',
  '*.secret',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.clientSecret',
  '*.authorization',
  '*.Authorization',
  'credentials',
  '*.credentials',
];

export function createLogger(level = 'info', destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { component: 'lb-provisioner' }, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything (tests that don't read logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

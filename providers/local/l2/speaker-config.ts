/**
 * The speaker's flags as data (commander options, environment variables and the README's table are made from
 * them) and their validation: a bad value is an error naming the flag, before anything starts.
 */
import * as z from '../../../src/config/zod.ts';
import { durationFlag } from '../../../src/config/duration.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import type { FlagSpec } from '../../../src/config/flag-spec.ts';

export const DEFAULT_HEARTBEAT_PORT = 7947;

export const speakerFlags: readonly FlagSpec[] = [
  {
    flags: '--kubeconfig <path>',
    env: 'KUBECONFIG',
    documentedDefault: 'in-cluster',
    description: 'kubeconfig file (the in-cluster config when absent)',
  },
  {
    flags: '--node-name <name>',
    documentedDefault: '(required)',
    description: 'the Node this speaker runs on (the DaemonSet sets it from spec.nodeName)',
  },
  {
    flags: '--heartbeat-port <port>',
    default: String(DEFAULT_HEARTBEAT_PORT),
    description: 'UDP port of the heartbeat between speakers, on every node address (open it between nodes)',
  },
  {
    flags: '--heartbeat-interval <duration>',
    default: '100ms',
    description: 'how often each speaker sends its heartbeat to every node',
  },
  {
    flags: '--heartbeat-timeout <duration>',
    default: '500ms',
    description: 'a peer not heard for this long is dead and its VIPs move (at least 3 intervals)',
  },
  {
    flags: '--heartbeat-key-file <path>',
    documentedDefault: 'unsigned',
    description:
      'file holding a key shared by every speaker: heartbeats are signed (HMAC-SHA256) and unsigned ones refused',
  },
  {
    flags: '--apiserver-timeout <duration>',
    default: '10s',
    description:
      'the apiserver counts as lost after this long without an answer: the speaker gives way to peers that reach it',
  },
  {
    flags: '--metrics-bind-address <host:port>',
    default: '127.0.0.1:7473',
    description: 'serve /metrics, /healthz and /readyz here; 0 disables',
  },
  {
    flags: '--log-level <level>',
    default: 'info',
    description: 'trace, debug, info, warn, error; pino JSON lines, credentials redacted',
  },
];

const config = z
  .object({
    kubeconfig: z.optional(z.string().check(z.minLength(1, { message: '--kubeconfig: must not be empty' }))),
    nodeName: z
      .string({ message: '--node-name: required (the Node this speaker runs on; env LBP_NODE_NAME)' })
      .check(z.regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: '--node-name: not a Node name' })),
    heartbeatPort: z
      .pipe(
        z.string().check(z.regex(/^\d{1,5}$/, { message: '--heartbeat-port: expected a port number' })),
        z.transform(Number),
      )
      .check(z.refine((p) => p >= 1 && p <= 65535, { message: '--heartbeat-port: expected a port number (1-65535)' })),
    heartbeatInterval: durationFlag('heartbeat-interval', 10),
    heartbeatTimeout: durationFlag('heartbeat-timeout', 30),
    heartbeatKeyFile: z.optional(
      z.string().check(z.minLength(1, { message: '--heartbeat-key-file: must not be empty' })),
    ),
    apiserverTimeout: durationFlag('apiserver-timeout', 1000),
    metricsBindAddress: z.string().check(
      z.refine((v) => v === '0' || /^(\[[0-9a-fA-F:]+\]|[0-9.]*|[a-zA-Z0-9.-]*):\d{1,5}$/.test(v), {
        message: '--metrics-bind-address: expected host:port (e.g. 0.0.0.0:7473), or 0 to disable',
      }),
    ),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      message: '--log-level: expected one of trace, debug, info, warn, error, fatal, silent',
    }),
  })
  .check(
    z.refine((c) => c.heartbeatTimeout >= 3 * c.heartbeatInterval, {
      message:
        '--heartbeat-timeout: must be at least three --heartbeat-interval (one lost datagram must not kill a peer)',
    }),
  );

export type SpeakerConfig = z.output<typeof config>;

export function parseSpeakerConfig(raw: Record<string, unknown>): SpeakerConfig {
  const parsed = config.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => i.message).join('\n'));
  return parsed.data;
}

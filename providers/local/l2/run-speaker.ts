/** The speaker process: logging, metrics endpoint, signals, exit codes around the Speaker. */
import { readFile } from 'node:fs/promises';
import { startHttpServer } from '../../../src/cli/http-server.ts';
import { UserFixableError } from '../../../src/cli/exit-errors.ts';
import { loadKubeConfig } from '../../../src/kube/client.ts';
import { createLogger } from '../../../src/log.ts';
import { ADDON_PATH, loadResponderAddon } from './responder.ts';
import { Speaker } from './speaker.ts';
import type { SpeakerConfig } from './speaker-config.ts';
import { SpeakerMetrics } from './speaker-metrics.ts';
import { checkKubeProxyStrictArp } from './strict-arp.ts';

export async function runSpeaker(config: SpeakerConfig): Promise<void> {
  const log = createLogger(config.logLevel);
  try {
    loadResponderAddon();
  } catch (err) {
    throw new UserFixableError(err instanceof Error ? err.message : String(err));
  }
  let key: Buffer | undefined;
  if (config.heartbeatKeyFile) {
    key = Buffer.from((await readFile(config.heartbeatKeyFile, 'utf8')).trim());
    if (key.length < 16)
      throw new UserFixableError(`--heartbeat-key-file: ${config.heartbeatKeyFile} holds fewer than 16 bytes`);
  }
  const kc = loadKubeConfig(config.kubeconfig);
  const metrics = new SpeakerMetrics({ defaultMetrics: true });
  const speaker = new Speaker({
    kubeConfig: kc,
    nodeName: config.nodeName,
    heartbeatPort: config.heartbeatPort,
    heartbeatIntervalMs: config.heartbeatInterval,
    heartbeatTimeoutMs: config.heartbeatTimeout,
    ...(key ? { heartbeatKey: key } : {}),
    apiserverTimeoutMs: config.apiserverTimeout,
    log,
    metrics,
  });
  let ready = false;
  const server =
    config.metricsBindAddress === '0'
      ? undefined
      : await startHttpServer(config.metricsBindAddress, metrics, () => ready);
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: handing the VIPs over');
    await speaker.stop();
    await server?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  log.info(
    {
      node: config.nodeName,
      heartbeatPort: config.heartbeatPort,
      heartbeatIntervalMs: config.heartbeatInterval,
      heartbeatTimeoutMs: config.heartbeatTimeout,
      signedHeartbeats: key !== undefined,
      addon: ADDON_PATH,
      metrics: server?.address ?? null,
    },
    'starting the L2 speaker',
  );
  void checkKubeProxyStrictArp(kc).then((warning) => {
    if (warning) log.warn(warning);
  });
  try {
    await speaker.start();
  } catch (err) {
    await speaker.stop().catch(() => {});
    await server?.close();
    throw err;
  }
  ready = true;
}

/** `lb-provisioner run`: the controller process. */
import type { Config } from '../config/config.ts';
import { createLogger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { ServiceController } from '../controller/controller.ts';
import { startHttpServer } from './http-server.ts';
import { loadKubeConfig } from '../kube/client.ts';

export async function runController(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const kc = loadKubeConfig(config.kubeconfig);
  const metrics = new Metrics({ defaultMetrics: true });
  const providers = [];
  for (const p of config.providers)
    providers.push(await p.create({ clusterName: config.clusterName, nodePortRange: config.nodePortRange, log }));
  const controller = new ServiceController({
    kubeConfig: kc,
    clusterName: config.clusterName,
    providers,
    ...(config.defaultProvider ? { defaultProvider: config.defaultProvider } : {}),
    classOnly: config.classOnly,
    workers: config.workers,
    resyncPeriodMs: config.resyncPeriod,
    log,
    metrics,
    ...(config.leaderElect
      ? {
          leaderElection: {
            namespace: config.leaderElectNamespace,
            name: config.leaderElectName,
            identity: config.leaderElectIdentity,
            leaseDurationMs: config.leaderElectLeaseDuration,
            renewDeadlineMs: config.leaderElectRenewDeadline,
            retryPeriodMs: config.leaderElectRetryPeriod,
          },
        }
      : {}),
    // like client-go users: a replica that lost the lease exits, and its Deployment starts it fresh
    onLostLeadership: () => {
      log.error('leader lease lost: exiting');
      process.exit(1);
    },
  });
  let ready = false;
  const server =
    config.metricsBindAddress === '0'
      ? undefined
      : await startHttpServer(config.metricsBindAddress, metrics, () => ready);
  if (server) log.info({ address: server.address }, 'serving /metrics, /healthz, /readyz');
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining workers');
    await controller.stop();
    await server?.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  log.info(
    {
      providers: config.provider,
      defaultProvider: config.defaultProvider ?? null,
      clusterName: config.clusterName,
      workers: config.workers,
    },
    'starting the service controller',
  );
  await controller.start();
  ready = true;
}

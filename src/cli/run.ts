/** `lb-provisioner run`: the controller process. */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from '../config/config.ts';
import { createLogger, type Logger } from '../log.ts';
import { Metrics } from '../metrics.ts';
import { ServiceController } from '../controller/controller.ts';
import { startHttpServer, type RunningServer } from './http-server.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { ApiserverWatchdog } from './apiserver-watchdog.ts';
import { UserFixableError } from './exit-errors.ts';
import { checkLeaseAccess, ensureLeaseNamespace, serverOf, waitForApiserver } from './preflight.ts';

export async function runController(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const kc = kubeConfigOf(config);
  log.info(
    {
      server: serverOf(kc),
      providers: config.provider,
      defaultProvider: config.defaultProvider ?? null,
      clusterName: config.clusterName,
      workers: config.workers,
      nodeSyncConcurrency: config.nodeSyncConcurrency,
      leaderElection: config.leaderElect ? `${config.leaderElectNamespace}/${config.leaderElectName}` : false,
    },
    'starting the service controller',
  );
  const metrics = new Metrics({ defaultMetrics: true });
  let ready = false;
  const server = await metricsServer(config, metrics, () => ready);
  if (server) log.info({ address: server.address }, 'serving /metrics, /healthz, /readyz');

  let controller: ServiceController | undefined;
  let stopping = false;
  let watchdog: ApiserverWatchdog | undefined;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining workers');
    await controller?.stop();
    await server?.close();
    watchdog?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    await preflight(kc, config, log);
    // from here on the one handle that keeps the process alive until it stops, and ends it when the apiserver is gone
    watchdog = new ApiserverWatchdog(kc, {
      timeoutMs: config.apiserverTimeout,
      onGone: (lastError) => {
        log.error(
          { server: serverOf(kc), err: lastError, apiserverTimeout: config.apiserverTimeout / 1000 },
          'the apiserver has not answered for --apiserver-timeout: exiting',
        );
        process.exit(1);
      },
    });
    const providers = [];
    for (const p of config.providers)
      providers.push(await p.create({ clusterName: config.clusterName, nodePortRange: config.nodePortRange, log }));
    controller = new ServiceController({
      kubeConfig: kc,
      clusterName: config.clusterName,
      providers,
      ...(config.defaultProvider ? { defaultProvider: config.defaultProvider } : {}),
      classOnly: config.classOnly,
      workers: config.workers,
      nodeSyncConcurrency: config.nodeSyncConcurrency,
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
    await controller.start();
    ready = true;
  } catch (err) {
    watchdog?.stop();
    await server?.close();
    throw err;
  }
}

function kubeConfigOf(config: Config): KubeConfig {
  // client-node builds an in-cluster config with no server rather than fail: say it at once
  if (!config.kubeconfig && !process.env['KUBERNETES_SERVICE_HOST'])
    throw new UserFixableError(
      'no --kubeconfig (or KUBECONFIG), and not running in a cluster (KUBERNETES_SERVICE_HOST is unset); give --kubeconfig',
    );
  try {
    return loadKubeConfig(config.kubeconfig);
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new UserFixableError(
      config.kubeconfig
        ? `--kubeconfig ${config.kubeconfig}: ${why}`
        : `no --kubeconfig (or KUBECONFIG) and no in-cluster configuration (${why}); give --kubeconfig`,
    );
  }
}

async function metricsServer(
  config: Config,
  metrics: Metrics,
  ready: () => boolean,
): Promise<RunningServer | undefined> {
  if (config.metricsBindAddress === '0') return undefined;
  try {
    return await startHttpServer(config.metricsBindAddress, metrics, ready);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES')
      throw new UserFixableError(
        `--metrics-bind-address ${config.metricsBindAddress}: ${code === 'EADDRINUSE' ? 'the address is in use' : (err as Error).message}; choose another host:port, or 0 to serve no metrics`,
      );
    throw err;
  }
}

/** Before anything starts: the apiserver answers, and the leader Lease can be used. */
async function preflight(kc: KubeConfig, config: Config, log: Logger): Promise<void> {
  await waitForApiserver(kc, config.apiserverTimeout, log);
  if (!config.leaderElect) return;
  const lease = { namespace: config.leaderElectNamespace, name: config.leaderElectName };
  await ensureLeaseNamespace(kc, lease, log);
  await checkLeaseAccess(kc, lease);
}

/**
 * Runs a ProxyDataplane inside the load balancer's namespace for the e2e suite (`node dataplane-agent.ts`),
 * driven over rpc.ts: start, ensure, updateTargets, remove, status, events.
 */
import { ProxyDataplane } from '../../providers/local/dataplane/proxy-dataplane.ts';
import type {
  DataplaneEvent,
  DesiredProxyService,
  ProxyDataplaneOptions,
} from '../../providers/local/dataplane/proxy-dataplane.ts';
import type { DesiredLoadBalancer } from '../../src/model/desired.ts';
import { serveRpc } from './rpc.ts';

let dp: ProxyDataplane | undefined;
const events: DataplaneEvent[] = [];
const logs: string[] = [];
const log = (level: string) => (obj: object, msg: string) => void logs.push(`${level} ${msg} ${JSON.stringify(obj)}`);

function need(): ProxyDataplane {
  if (dp === undefined) throw new Error('not started');
  return dp;
}

serveRpc({
  async start(a) {
    const options = a.options as ProxyDataplaneOptions;
    dp = new ProxyDataplane({ ...options, logger: { info: log('info'), warn: log('warn'), error: log('error') } });
    dp.onTransition((e) => events.push(e));
    await dp.start((a.initial as DesiredProxyService[] | undefined) ?? []);
    return { backend: dp.backendName };
  },
  ensure: (a) => need().ensureService(a.key as string, a.vips as string[], a.lb as DesiredLoadBalancer),
  updateTargets: (a) => need().updateTargets(a.key as string, a.lb as DesiredLoadBalancer),
  remove: (a) => need().removeService(a.key as string),
  status: (a) => need().status(a.key as string) ?? null,
  events: () => events.splice(0),
  logs: () => logs.splice(0),
  async teardown() {
    await dp?.teardown();
    dp = undefined;
  },
  async close() {
    await dp?.close();
    dp = undefined;
  },
});

/**
 * `npm run demo -- --dataplane l2` (root): the L2 data plane on one machine. Three node namespaces on one
 * bridge, a dev apiserver reachable from them, the controller with `--dataplane l2`, a speaker process per
 * node under its own ServiceAccount, and per node a kube-proxy stand-in (VIP:80 to a server answering with
 * the node's name). This process is the client, on the same segment. It shows the VIP's holder, kills the
 * holder's speaker (SIGKILL) and prints how long the VIP took to answer from its new node, then brings the
 * speaker back and watches the VIP return. Ctrl-C removes everything.
 */
import * as k8s from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, extname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { applyCrds, untilStopRequested } from '../../../../src/cli/dev-cluster.ts';
import { UserFixableError } from '../../../../src/cli/exit-errors.ts';
import { ServiceController } from '../../../../src/controller/controller.ts';
import { onProcessExit } from '../../../../src/devcluster/children.ts';
import { startControlPlane } from '../../../../src/devcluster/controlplane.ts';
import { createNode } from '../../../../src/devcluster/nodes.ts';
import { withConnectionPool } from '../../../../src/kube/client.ts';
import { createLogger } from '../../../../src/log.ts';
import { KubeLocalProvider } from '../../kube-provider.ts';
import { rankNodes } from '../election.ts';
import { announcementName } from '../status-writer.ts';
import { NetnsLab } from './netns-lab.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const NODES = ['node-a', 'node-b', 'node-c'];
const SUBNET = '10.213.43';
const POOL = `${SUBNET}.192/27`;

function step(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

function ask(vip: string): Promise<string> {
  return new Promise((done) => {
    const req = request({ host: vip, port: 80, path: '/', agent: false, timeout: 300 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => done(body.trim()));
    });
    req.on('error', () => done('no answer'));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export async function runL2Demo(opts: { kubeconfigOut: string }): Promise<void> {
  if (process.getuid?.() !== 0)
    throw new UserFixableError(
      'the L2 demo needs root (network namespaces, and the speakers answer ARP from packet sockets): sudo npm run demo -- --dataplane l2',
    );
  const build = spawn('bash', [`${REPO}providers/local/l2/native/build.sh`], { stdio: 'inherit' });
  if ((await new Promise((r) => build.on('exit', r))) !== 0) throw new Error('building the L2 speaker addon failed');

  const lab = new NetnsLab(SUBNET, NODES);
  const children = new Map<string, ChildProcess>();
  let controller: ServiceController | undefined;
  let cp: Awaited<ReturnType<typeof startControlPlane>> | undefined;
  // whatever ends this process, the namespaces (and the speakers in them) go with it
  const forgetLab = onProcessExit(() => lab.destroySync());
  let stop: ReturnType<typeof untilStopRequested> | undefined;
  try {
    step(
      `building three node namespaces on one bridge (${SUBNET}.0/24); this process is the client at ${lab.hostAddress}`,
    );
    await lab.create();
    step('starting a dev control plane (the first run builds it from the Go module proxy: a few minutes)');
    cp = await startControlPlane({ bridgeAddress: lab.hostAddress, log: step });
    // only now: until the control plane is up, Ctrl-C is the harness's (it stops what it started and exits)
    stop = untilStopRequested();
    const kubeconfig = resolve(opts.kubeconfigOut);
    await mkdir(dirname(kubeconfig), { recursive: true });
    await copyFile(cp.adminKubeconfigPath, kubeconfig);
    await chmod(kubeconfig, 0o600);
    await applyCrds(cp, () => {});
    for (const file of [
      'deploy/controller/rbac.yaml',
      'deploy/speaker/rbac.yaml',
      'deploy/speaker/l2advertisement.yaml',
    ]) {
      const r = await cp.kubectl(['apply', '--server-side', '-f', `${REPO}${file}`]);
      if (r.code !== 0) throw new Error(`kubectl apply -f ${file}: ${r.stderr}`);
    }
    const admin = withConnectionPool(cp.kubeConfig());
    const core = admin.makeApiClient(k8s.CoreV1Api);
    const custom = admin.makeApiClient(k8s.CustomObjectsApi);
    await custom.createClusterCustomObject({
      group: 'lbprovisioner.io',
      version: 'v1alpha1',
      plural: 'ippools',
      body: {
        apiVersion: 'lbprovisioner.io/v1alpha1',
        kind: 'IPPool',
        metadata: { name: 'demo' },
        spec: { addresses: [POOL] },
      },
    });

    const speakerKubeconfig = await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner-speaker', {
      server: cp.bridgeUrl,
    });
    const startSpeaker = (node: string): void => {
      const args = [`${REPO}bin/lb-provisioner.js`, 'speaker', '--kubeconfig', speakerKubeconfig, '--node-name', node];
      args.push('--metrics-bind-address', '0', '--log-level', process.env['LBP_LOG_LEVEL'] ?? 'warn');
      children.set(
        `speaker/${node}`,
        spawn('ip', ['netns', 'exec', lab.ns(node), process.execPath, ...args], { stdio: 'inherit' }),
      );
    };
    step(
      `registering ${NODES.join(', ')}, each with a kube-proxy stand-in (VIP:80 answers with the node's name) and a speaker`,
    );
    for (const node of NODES) {
      await createNode(admin, { name: node, internalIP: lab.address(node) });
      await lab.exec(
        node,
        'nft',
        ['-f', '-'],
        `table ip kube-proxy-standin { chain prerouting { type nat hook prerouting priority dstnat; ip daddr ${POOL} tcp dport 80 redirect to :8080; }; }\n`,
      );
      const standin = spawn(
        'ip',
        [
          'netns',
          'exec',
          lab.ns(node),
          process.execPath,
          // .ts in the sources, .js in the image's compiled tree
          fileURLToPath(new URL(`./standin-node${extname(import.meta.url)}`, import.meta.url)),
          node,
        ],
        {
          stdio: ['pipe', 'inherit', 'inherit'],
        },
      );
      children.set(`standin/${node}`, standin);
      startSpeaker(node);
    }

    step('starting the controller under its own ServiceAccount: local provider, --dataplane l2, pool ' + POOL);
    const controllerKc = new k8s.KubeConfig();
    controllerKc.loadFromFile(await cp.serviceAccountKubeconfig('lb-provisioner', 'lb-provisioner'));
    const log = createLogger(process.env['LBP_LOG_LEVEL'] ?? 'warn');
    const provider = new KubeLocalProvider({ clusterName: 'demo', pools: [], dataplane: 'l2', log });
    controller = new ServiceController({
      kubeConfig: controllerKc,
      clusterName: 'demo',
      providers: [provider],
      defaultProvider: 'local',
      classOnly: false,
      workers: 2,
      resyncPeriodMs: 10 * 60_000,
      log,
    });
    await controller.start();

    await core.createNamespace({ body: { metadata: { name: 'demo' } } });
    await core.createNamespacedService({
      namespace: 'demo',
      body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, targetPort: 8080 }] } },
    });
    let vip = '';
    const holderOf = async (): Promise<string> => {
      try {
        const o = (await custom.getClusterCustomObject({
          group: 'lbprovisioner.io',
          version: 'v1alpha1',
          plural: 'l2announcements',
          name: announcementName(vip),
        })) as { status?: { node?: string } };
        return o.status?.node ?? '';
      } catch {
        return '';
      }
    };
    // settled: the speakers agree (the holder named, the holder serving) for ten checks in a row
    let holder = '';
    for (let settled = 0, i = 0; settled < 10 && i < 600; i++) {
      const svc = await core.readNamespacedService({ name: 'web', namespace: 'demo' });
      vip = svc.status?.loadBalancer?.ingress?.[0]?.ip ?? '';
      const named = vip ? await holderOf() : '';
      settled = named !== '' && named === holder && (await ask(vip)) === named ? settled + 1 : 0;
      holder = named;
      await sleep(100);
    }
    if (!vip || !holder) throw new Error('the Service got no address, or no speaker announces it');
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) answers.push(await ask(vip));
    step(`demo/web got ${vip} (ipMode VIP); ${holder} announces it (L2Announcement ${announcementName(vip)})`);
    step(`5 requests from this host to ${vip}:80 were answered by: ${answers.join(', ')}`);

    step(`killing ${holder}'s speaker (SIGKILL) and asking the VIP every 10 ms...`);
    const killedAt = Date.now();
    children.get(`speaker/${holder}`)?.kill('SIGKILL');
    let answer = holder;
    while (Date.now() - killedAt < 10_000 && (answer === holder || answer === 'no answer')) {
      answer = await ask(vip);
      if (answer === holder || answer === 'no answer') await sleep(10);
    }
    step(
      `${vip} answered from ${answer} ${Date.now() - killedAt} ms after the kill (L2Announcement now says ${await holderOf()})`,
    );
    step(
      `restarting ${holder}'s speaker: the VIP goes back to it, the first node in the VIP's hash order (${rankNodes(vip, NODES).join(', ')})`,
    );
    startSpeaker(holder);
    const back = Date.now();
    while (Date.now() - back < 15_000 && (await ask(vip)) !== holder) await sleep(50);
    step(`${vip} is answered by ${await ask(vip)} again`);
    step(
      `up. kubeconfig: ${kubeconfig}   try: kubectl --kubeconfig ${kubeconfig} get l2announcements,l2advertisements,svc -A`,
    );
    step('Ctrl-C stops everything and removes the namespaces');
    await stop.promise;
    step('stopping and cleaning up');
  } finally {
    stop?.dispose();
    await controller?.stop();
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await lab.destroy();
    forgetLab();
    await cp?.stop();
  }
}

/**
 * The local provider's public entry: its descriptor (flags, their validation, annotations) and a factory.
 * Nothing outside this folder imports deeper. The provider itself loads only when it is created.
 */
import * as z from '../../src/config/zod.ts';
import type { ProviderDescriptor } from '../../src/provider-descriptor.ts';
import { localAnnotations } from './annotations.ts';
import { dataplaneAnnotations } from './dataplane/service-options.ts';
import { poolFlagErrors, poolsFromFlags } from './pool.ts';
import type { KubeLocalProvider, LocalProviderConfig } from './kube-provider.ts';

export type { KubeLocalProvider, LocalProviderConfig } from './kube-provider.ts';
export { registerSpeakerCommand } from './l2/speaker-command.ts';

/** `demo --dataplane l2`: the L2 data plane in network namespaces on this machine (root). Loaded when run. */
export async function runL2Demo(o: { kubeconfigOut: string }): Promise<void> {
  return (await import('./l2/demo/l2-demo.ts')).runL2Demo(o);
}

const options = z.object({
  pool: z.array(z.string()).check(
    z.superRefine((values, ctx) => {
      for (const message of poolFlagErrors(poolsFromFlags(values).errors)) ctx.addIssue({ code: 'custom', message });
    }),
  ),
  dataplane: z.enum(['none', 'proxy', 'l2'], { message: '--dataplane: expected none, proxy or l2' }),
  proxyBackend: z.enum(['auto', 'nftables', 'userspace'], {
    message: '--proxy-backend: expected auto, nftables or userspace',
  }),
  vipInterface: z.string().check(
    z.regex(/^[a-zA-Z0-9._-]{1,15}$/, {
      message: '--vip-interface: expected an interface name (at most 15 characters)',
    }),
  ),
});

export const localProvider: ProviderDescriptor<z.output<typeof options>> = {
  name: 'local',
  title: 'Local provider',
  flags: [
    {
      flags: '--pool <cidr>',
      list: true,
      documentedDefault: 'none',
      description:
        'an address pool (CIDR, start-end or one address), repeatable; several in one flag make one dual-stack pool; IPPool objects add more',
    },
    {
      flags: '--dataplane <mode>',
      default: 'none',
      description:
        'none (addresses only, ipMode: VIP), proxy (this host forwards VIP:port to the NodePorts, ipMode: Proxy) or l2 (the speakers on the nodes announce each VIP by ARP/NDP, ipMode: VIP; run lb-provisioner speaker on every node)',
    },
    {
      flags: '--proxy-backend <name>',
      default: 'auto',
      description:
        'proxy data plane: nftables, userspace, or auto (nftables when it can be programmed, else userspace; the log says why)',
    },
    {
      flags: '--vip-interface <name>',
      default: 'lbp0',
      description:
        'proxy data plane: the interface the VIPs go on (created if missing; lo for the userspace back end in dev)',
    },
  ],
  options,
  annotations: [{ title: 'Local provider', rows: [...localAnnotations, ...dataplaneAnnotations] }],
  doctor: async (o, ctx) => (await import('./doctor.ts')).localDoctor(o, ctx),
  create: (o, shared) =>
    createLocalProvider({
      clusterName: shared.clusterName,
      pools: o.pool,
      dataplane: o.dataplane,
      proxyBackend: o.proxyBackend,
      vipInterface: o.vipInterface,
      log: shared.log,
    }),
};

/**
 * `lb-provisioner cleanup`: removes the nftables tables and VIP interfaces a proxy data plane left on this
 * host (or only `vipInterface`); refused while an instance runs here. Returns what was removed.
 */
export async function removeDataplaneLeftovers(options: { vipInterface?: string } = {}): Promise<string[]> {
  const { removeLeftovers } = await import('./dataplane/leftovers.ts');
  return removeLeftovers(options);
}

/** The provider with IPPool objects and the data plane, for embedders (the demo, tests). */
export async function createLocalProvider(config: LocalProviderConfig): Promise<KubeLocalProvider> {
  const { KubeLocalProvider } = await import('./kube-provider.ts');
  return new KubeLocalProvider(config);
}

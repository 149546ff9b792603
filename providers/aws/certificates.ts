/**
 * Extra certificates of TLS listeners. aws-load-balancer-ssl-cert is a comma list: the first is the
 * listener's default certificate (CreateListener / ModifyListener), the others are added to its
 * certificate list with AddListenerCertificates (SNI) and removed with RemoveListenerCertificates when
 * they leave the annotation. A digest of what we last applied, tagged on the NLB (TAG.certificates), spares
 * the reads at steady state; a drift pass reads the lists back.
 */
import {
  AddListenerCertificatesCommand,
  DescribeListenerCertificatesCommand,
  RemoveListenerCertificatesCommand,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Ctx } from './context.ts';
import type { PortPlan } from './plan.ts';
import { digest } from './tags.ts';

/** The certificates beyond the default one, per TLS listener port. */
export function extraCertificates(plans: PortPlan[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const p of plans)
    if (p.listenerProtocol === 'TLS' && p.certificates.length > 1)
      out.set(p.port, [...new Set(p.certificates.slice(1))]);
  return out;
}

/** The TAG.certificates value for these plans; undefined when no listener has extra certificates. */
export function certificateDigest(plans: PortPlan[]): string | undefined {
  const extra = extraCertificates(plans);
  if (extra.size === 0) return undefined;
  return digest(Object.fromEntries([...extra].map(([port, certs]) => [String(port), certs.join(' ')])));
}

/** Make a listener's non-default certificates exactly `want` (one read, at most one add and one remove). */
export async function syncListenerCertificates(
  ctx: Ctx,
  listenerArn: string,
  defaultCert: string | undefined,
  want: string[],
): Promise<void> {
  const have = new Set<string>();
  let marker: string | undefined;
  do {
    const page = await ctx.api.elbv2(
      new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn, Marker: marker }),
      ctx.signal,
    );
    // AWS lists the default certificate too, marked IsDefault
    for (const c of page.Certificates ?? [])
      if (c.CertificateArn && !c.IsDefault && c.CertificateArn !== defaultCert) have.add(c.CertificateArn);
    marker = page.NextMarker;
  } while (marker);
  const add = want.filter((c) => !have.has(c) && c !== defaultCert);
  const remove = [...have].filter((c) => !want.includes(c));
  if (add.length > 0) {
    await ctx.api.elbv2(
      new AddListenerCertificatesCommand({
        ListenerArn: listenerArn,
        Certificates: add.map((CertificateArn) => ({ CertificateArn })),
      }),
      ctx.signal,
    );
    ctx.changed = true;
  }
  if (remove.length > 0) {
    await ctx.api.elbv2(
      new RemoveListenerCertificatesCommand({
        ListenerArn: listenerArn,
        Certificates: remove.map((CertificateArn) => ({ CertificateArn })),
      }),
      ctx.signal,
    );
    ctx.changed = true;
  }
}

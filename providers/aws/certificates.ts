/**
 * Extra certificates of TLS listeners. aws-load-balancer-ssl-cert is a comma list: the first is the
 * listener's default certificate (CreateListener / ModifyListener), the others are added to its
 * certificate list with AddListenerCertificates (SNI) and removed with RemoveListenerCertificates when
 * they leave the annotation. A digest of what we last applied, tagged on the NLB (TAG.certificates), spares
 * the reads at steady state; a drift pass reads the lists back. Pure.
 */
import type { PortPlan } from './plan.ts';
import { digest } from './tags.ts';

/** The certificates beyond the default one, per TLS listener port. */
export function extraCertificates(plans: PortPlan[]): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const p of plans)
    if (p.listenerProtocol === 'TLS' && p.certificates.length > 1)
      out.set(
        p.port,
        [...new Set(p.certificates.slice(1))].filter((c) => c !== p.certificates[0]),
      );
  return out;
}

/** The TAG.certificates value for these plans; undefined when no listener has extra certificates. */
export function certificateDigest(plans: PortPlan[]): string | undefined {
  const extra = extraCertificates(plans);
  if (extra.size === 0) return undefined;
  return digest(Object.fromEntries([...extra].map(([port, certs]) => [String(port), certs.join(' ')])));
}

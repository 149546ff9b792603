/**
 * `lb-provisioner cleanup`, like kube-proxy's --cleanup: removes what the proxy data plane left on this
 * host. A clean stop keeps forwarding on purpose (a restart takes over without dropping traffic); this is
 * the uninstall. Refused while an instance runs here.
 */
import { removeDataplaneLeftovers } from '../../providers/local/index.ts';
import { UserFixableError } from './exit-errors.ts';

export async function runCleanup(options: { vipInterface?: string }, print: (line: string) => void): Promise<void> {
  let removed: string[];
  try {
    removed = await removeDataplaneLeftovers(options);
  } catch (err) {
    const e = err as Error;
    if (e.name === 'HostLockedError') throw new UserFixableError(`${e.message}: stop it before cleaning up`);
    if (e.name === 'InterfaceNotOwnedError') throw new UserFixableError(e.message);
    if (/Operation not permitted|permission denied/i.test(e.message))
      throw new UserFixableError(`cleanup changes this host's network configuration: run it as root (${e.message})`);
    throw err;
  }
  if (removed.length === 0) print('cleanup: nothing of lb-provisioner is left on this host');
  for (const what of removed) print(`cleanup: removed ${what}`);
}

/** `--proxy-backend auto|nftables|userspace`: auto takes nftables when a real dry run of our table passes. */
import { NftablesBackend } from './nftables-backend.ts';
import type { NftablesBackendOptions } from './nftables-backend.ts';
import { UserspaceBackend } from './userspace-backend.ts';
import type { UserspaceBackendOptions } from './userspace-backend.ts';
import { silentLogger } from './types.ts';
import type { DataplaneLogger, ProxyBackend } from './types.ts';

export type BackendChoice = 'auto' | 'nftables' | 'userspace';

export interface BackendSelectOptions {
  choice: BackendChoice;
  nftables?: NftablesBackendOptions;
  userspace?: UserspaceBackendOptions;
  logger?: DataplaneLogger;
}

export async function selectBackend(opts: BackendSelectOptions): Promise<ProxyBackend> {
  const log = opts.logger ?? silentLogger;
  if (opts.choice === 'userspace') {
    log.info({ backend: 'userspace' }, 'proxy back end: userspace (as configured)');
    return new UserspaceBackend({ logger: log, ...opts.userspace });
  }
  const nft = new NftablesBackend({ logger: log, ...opts.nftables });
  try {
    // `nft -c` asks the kernel to validate the transaction: it fails without CAP_NET_ADMIN, without
    // nf_tables, without the nft binary, or when the table belongs to someone else
    await nft.dryRun([]);
    log.info(
      { backend: 'nftables' },
      opts.choice === 'auto' ? 'proxy back end: nftables (dry run passed)' : 'proxy back end: nftables (as configured)',
    );
    return nft;
  } catch (err) {
    if (opts.choice === 'nftables') throw err;
    log.info(
      { backend: 'userspace', reason: (err as Error).message },
      'proxy back end: userspace (nftables unavailable)',
    );
    return new UserspaceBackend({ logger: log, ...opts.userspace });
  }
}

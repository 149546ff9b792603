/**
 * What a proxy data plane leaves on its host when it stops without an uninstall (killed, or a clean stop,
 * which keeps forwarding on purpose so a restart drops no traffic, as kube-proxy keeps its rules): our
 * nftables tables and VIP interfaces, each tagged `owner=lb-provisioner[/<cluster>]`. Leftovers are taken
 * over or removed only when no lb-provisioner holds a host lock here, which proves their owner gone.
 */
import { mustRun, runCommand } from './command.ts';
import { HostLockedError, heldHostLocks, lockHolder } from './host-lock.ts';
import { parseNftListing } from './nft-ruleset.ts';
import type { DataplaneLogger } from './types.ts';
import { OUR_OWNER_TAG, VipInterface } from './vip-interface.ts';

const FAMILY = 'inet';

/** Our tables and their owner tags; none when nft is missing. */
export async function taggedTables(): Promise<{ name: string; comment: string }[]> {
  const list = await runCommand('nft', ['-j', 'list', 'tables', FAMILY]);
  if (list.code !== 0) return [];
  const parsed = JSON.parse(list.stdout) as { nftables?: { table?: { name: string } }[] };
  const tagged: { name: string; comment: string }[] = [];
  for (const entry of parsed.nftables ?? []) {
    const name = entry.table?.name;
    if (name === undefined) continue;
    const table = await runCommand('nft', ['-t', 'list', 'table', FAMILY, name]);
    const comment = table.code === 0 ? parseNftListing(table.stdout).comment : undefined;
    if (comment !== undefined && OUR_OWNER_TAG.test(comment)) tagged.push({ name, comment });
  }
  return tagged;
}

/**
 * The caller holds the host lock and no other lb-provisioner holds one: a table of that name another
 * lb-provisioner left (another cluster name) is deleted, so the back end builds its own. nftables can't
 * change a table's comment, and a DNAT table left alone would keep forwarding VIPs we no longer own.
 */
export async function takeOverTable(table: string, ownerTag: string, log: DataplaneLogger): Promise<void> {
  const leftover = (await taggedTables()).find((t) => t.name === table);
  if (leftover === undefined || leftover.comment === `owner=${ownerTag}`) return;
  await mustRun('nft', ['delete', 'table', FAMILY, table]);
  log.info({ table, previousOwner: leftover.comment }, 'removed the nftables table a stopped lb-provisioner left');
}

/** Another lb-provisioner's lock held here (besides `ownLock`), with its pid when it answers. */
export async function otherInstance(ownLock?: string): Promise<HostLockedError | undefined> {
  const other = (await heldHostLocks()).find((name) => name !== ownLock);
  return other === undefined ? undefined : new HostLockedError(other, await lockHolder(other));
}

/**
 * `lb-provisioner cleanup`: removes every nftables table and VIP interface an lb-provisioner left here (or
 * only `vipInterface`, with our addresses when it is lo). Refused while an instance runs: it would lose
 * its forwarding. Returns what was removed.
 */
export async function removeLeftovers(options: { vipInterface?: string } = {}): Promise<string[]> {
  const running = await otherInstance();
  if (running !== undefined) throw running;
  const removed: string[] = [];
  for (const t of await taggedTables()) {
    await mustRun('nft', ['delete', 'table', FAMILY, t.name]);
    removed.push(`nftables table ${FAMILY} ${t.name} (${t.comment})`);
  }
  const names = options.vipInterface !== undefined ? [options.vipInterface] : [...(await taggedLinks()), 'lo'];
  for (const name of names) removed.push(...(await new VipInterface({ name }).removeLeftovers()));
  return removed;
}

async function taggedLinks(): Promise<string[]> {
  const links = await runCommand('ip', ['-j', 'link', 'show']);
  if (links.code !== 0) return [];
  const parsed = JSON.parse(links.stdout) as { ifname: string; ifalias?: string }[];
  return parsed.filter((l) => OUR_OWNER_TAG.test(l.ifalias ?? '')).map((l) => l.ifname);
}

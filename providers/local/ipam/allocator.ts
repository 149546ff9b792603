/**
 * IP address management for the local provider: a pure data structure (no Kubernetes, no I/O, no clock),
 * in the spirit of MetalLB's internal/allocator. Services are identified by their `ns/name` key.
 *
 * Rules:
 *  - a Service keeps what it holds while that still satisfies its request (same request, same answer);
 *    pool restrictions are checked when an address is given, not after: editing a pool's selectors or
 *    removing the pool never renumbers a live Service;
 *  - addresses in its status that lie in one of our pools and are free (or shareable) are adopted;
 *  - an address is held by several Services only when all have the same sharing key, disjoint ports and,
 *    with externalTrafficPolicy Local, the same selector; it is freed when the last holder leaves;
 *  - free addresses are found by scanning each range from a per-range low-water mark, skipping addresses in
 *    use: the cost grows with the addresses in use, never with the size of the pool (an IPv6 /64 is fine).
 */
import { formatAddress, parseAddress } from './address.ts';
import type { Address, IpFamily } from './address.ts';
import type {
  AllocatedAddress,
  AllocationOutcome,
  AllocationRequest,
  PoolDefinition,
  PoolStats,
  ReleaseOutcome,
} from './definitions.ts';
import { ipamError, isWaitingError } from './errors.ts';
import type { IpamError } from './errors.ts';
import { compilePools, poolContains, whyPoolRefuses } from './pool-set.ts';
import type { CompiledPools, Pool } from './pool-set.ts';
import { firstFreeInRange, rangeContains } from './range.ts';
import type { AddressRange } from './range.ts';
import { claimantOf, parseRequested, wantedFamilies, whyNotShared } from './request-rules.ts';
import type { Claimant } from './request-rules.ts';

export type AllocateResult = { ok: true; value: AllocationOutcome } | { ok: false; error: IpamError };

interface HeldAddress extends AllocatedAddress {
  address: Address;
  id: string;
}

interface Holding extends Claimant {
  addresses: HeldAddress[];
}

interface AddressUse {
  address: Address;
  holders: Set<string>;
}

export class Allocator {
  #pools: CompiledPools = compilePools([]);
  readonly #holdings = new Map<string, Holding>();
  readonly #uses = new Map<string, AddressUse>();
  readonly #bySharingKey = new Map<string, Set<string>>();
  /** per range: every address below the mark is in use or avoided */
  readonly #lowWater = new Map<string, { range: AddressRange; next: bigint }>();
  /** Services whose last request failed for want of an address, with why */
  readonly #waiting = new Map<string, IpamError>();

  constructor(pools: PoolDefinition[] = []) {
    this.setPools(pools);
  }

  /**
   * Replaces the pool set. Allocations in pools that disappear stay recorded and keep working; only new
   * requests for those addresses fail. Invalid definitions are rejected whole and reported.
   */
  setPools(definitions: PoolDefinition[]): {
    errors: IpamError[];
    retry: string[];
  } {
    this.#pools = compilePools(definitions);
    for (const holding of this.#holdings.values()) {
      for (const held of holding.addresses) held.pool = this.#poolNameFor(held.address, held.pool);
    }
    return { errors: this.#pools.errors, retry: [...this.#waiting.keys()] };
  }

  /** The definitions rejected by the last setPools. */
  poolErrors(): IpamError[] {
    return this.#pools.errors;
  }

  allocate(request: AllocationRequest): AllocateResult {
    const wanted = wantedFamilies(request);
    const requested = parseRequested(request, wanted.families);
    if ('kind' in requested) return this.#fail(request.key, requested);
    const claimant = claimantOf(request);
    const held = this.#holdings.get(request.key);
    const picked: HeldAddress[] = [];
    let firstError: IpamError | undefined;
    for (const family of wanted.families) {
      const result = this.#pickFamily(request, claimant, family, requested.get(family), held);
      if (!('kind' in result)) {
        picked.push(result);
        continue;
      }
      // PreferDualStack settles for one family when the other has nothing to give; never when asked for
      const tolerable =
        !wanted.requireAll &&
        !requested.has(family) &&
        (result.kind === 'PoolExhausted' || result.kind === 'NoPoolAvailable' || result.kind === 'PoolHasNoFamily');
      if (!tolerable) return this.#fail(request.key, result);
      firstError ??= result;
    }
    if (picked.length === 0)
      return this.#fail(request.key, firstError ?? ipamError.noPoolAvailable('IPv4', request.key));
    this.#waiting.delete(request.key);
    const before = held?.addresses.map((a) => a.id) ?? [];
    const changed = before.join(',') !== picked.map((a) => a.id).join(',');
    const freed = this.#drop(request.key);
    this.#hold({ ...claimant, addresses: picked });
    const reallyFreed = freed.filter((id) => !this.#uses.has(id));
    return {
      ok: true,
      value: {
        key: request.key,
        addresses: picked.map(publicAddress),
        changed,
        ...this.#afterFreeing(reallyFreed),
      },
    };
  }

  /**
   * Records what a Service held before a restart. Call for every Service before the first allocate(). A
   * second Service recorded with an address it may not share gets nothing: the conflict is returned.
   */
  restore(key: string, ips: string[], request: AllocationRequest): IpamError | null {
    const claimant = claimantOf({ ...request, key });
    const addresses: HeldAddress[] = [];
    for (const ip of ips) {
      const address = parseAddress(ip);
      if (!address) return ipamError.notAnIP(ip);
      if (addresses.some((a) => a.family === address.family)) continue;
      const id = idOf(address);
      const conflict = this.#conflict(id, claimant);
      if (conflict) return ipamError.restoreConflict(key, formatAddress(address), conflict.holder, conflict.why);
      addresses.push({
        ip: formatAddress(address),
        family: address.family,
        pool: this.#poolNameFor(address, null),
        address,
        id,
      });
    }
    this.#drop(key);
    if (addresses.length > 0) this.#hold({ ...claimant, addresses });
    return null;
  }

  /** The pool an address lies in, or null when it lies in none. */
  poolOf(ip: string): string | null {
    const address = parseAddress(ip);
    return address ? this.#poolNameFor(address, null) : null;
  }

  release(key: string): ReleaseOutcome {
    this.#waiting.delete(key);
    return this.#afterFreeing(this.#drop(key));
  }

  allocationOf(key: string): AllocatedAddress[] | undefined {
    return this.#holdings.get(key)?.addresses.map(publicAddress);
  }

  /** Keys of every Service holding an address. */
  keys(): string[] {
    return [...this.#holdings.keys()];
  }

  holdersOf(ip: string): string[] {
    const address = parseAddress(ip);
    return address ? [...(this.#uses.get(idOf(address))?.holders ?? [])] : [];
  }

  /** Services waiting for an address (exhausted pool, no pool, address held by another). */
  waiting(): string[] {
    return [...this.#waiting.keys()];
  }

  stats(): PoolStats[] {
    return this.#pools.ordered.map((pool) => {
      let used = 0n;
      for (const use of this.#uses.values()) if (poolContains(pool, use.address)) used++;
      return {
        name: pool.name,
        families: pool.families,
        size: pool.size,
        used,
        free: pool.size - used,
      };
    });
  }

  #pickFamily(
    request: AllocationRequest,
    claimant: Claimant,
    family: IpFamily,
    requested: Address | undefined,
    held: Holding | undefined,
  ): HeldAddress | IpamError {
    const heldAddress = held?.addresses.find((a) => a.family === family);
    const keeps = (h: HeldAddress | undefined): h is HeldAddress => !!h && !this.#conflict(h.id, claimant);
    if (requested) {
      if (
        keeps(heldAddress) &&
        heldAddress.address.value === requested.value &&
        (request.pool === undefined || heldAddress.pool === request.pool)
      ) {
        return heldAddress;
      }
      return this.#claimRequested(request, claimant, requested);
    }
    // an address of an autoAssign: false pool stays only while the Service names that pool (or the address)
    const mayHold = (h: HeldAddress): boolean =>
      request.pool ? h.pool === request.pool : h.pool === null || this.#pools.byName.get(h.pool)?.autoAssign !== false;
    if (keeps(heldAddress) && mayHold(heldAddress)) return heldAddress;
    const named = request.pool === undefined ? undefined : this.#pools.byName.get(request.pool);
    if (request.pool !== undefined && !named) return ipamError.unknownPool(request.pool);
    const refusal = named && whyPoolRefuses(named, request);
    if (named && refusal) return ipamError.poolNotServing(named.name, request.key, refusal);
    const adopted = this.#adopt(request, claimant, family, named);
    if (adopted) return adopted;
    if (named) {
      if (!named.families.includes(family)) return ipamError.poolHasNoFamily(named.name, family);
      return this.#takeFrom([named], claimant, family) ?? ipamError.exhausted([named.name], family);
    }
    const candidates = this.#pools.ordered.filter(
      (pool) => pool.autoAssign && pool.families.includes(family) && !whyPoolRefuses(pool, request),
    );
    if (candidates.length === 0) return ipamError.noPoolAvailable(family, request.key);
    return (
      this.#takeFrom(candidates, claimant, family) ??
      ipamError.exhausted(
        candidates.map((pool) => pool.name),
        family,
      )
    );
  }

  /** An explicitly requested address: any pool holding it may serve it, autoAssign or not. */
  #claimRequested(request: AllocationRequest, claimant: Claimant, address: Address): HeldAddress | IpamError {
    const text = formatAddress(address);
    const containing = this.#pools.ordered.filter((pool) => poolContains(pool, address));
    if (request.pool !== undefined && !this.#pools.byName.has(request.pool)) return ipamError.unknownPool(request.pool);
    if (containing.length === 0) return ipamError.outsideAllPools(text);
    const pool =
      request.pool === undefined
        ? (containing.find((p) => !whyPoolRefuses(p, request)) ?? containing[0])
        : containing.find((p) => p.name === request.pool);
    if (!pool) return ipamError.notInPool(text, request.pool ?? '');
    const refusal = whyPoolRefuses(pool, request);
    if (refusal) return ipamError.poolNotServing(pool.name, request.key, refusal);
    const id = idOf(address);
    const conflict = this.#conflict(id, claimant);
    if (conflict) return ipamError.taken(text, conflict.holder, conflict.why);
    return { ip: text, family: address.family, pool: pool.name, address, id };
  }

  /** Keeps a live address of a Service moving to us (from MetalLB, say) rather than renumbering it. */
  #adopt(
    request: AllocationRequest,
    claimant: Claimant,
    family: IpFamily,
    named: Pool | undefined,
  ): HeldAddress | null {
    for (const current of request.currentIPs) {
      const address = parseAddress(current);
      if (!address || address.family !== family) continue;
      const pool = named
        ? poolContains(named, address)
          ? named
          : undefined
        : this.#pools.ordered.find((p) => p.autoAssign && poolContains(p, address) && !whyPoolRefuses(p, request));
      const id = idOf(address);
      if (!pool || this.#conflict(id, claimant)) continue;
      return {
        ip: formatAddress(address),
        family,
        pool: pool.name,
        address,
        id,
      };
    }
    return null;
  }

  #takeFrom(pools: Pool[], claimant: Claimant, family: IpFamily): HeldAddress | null {
    for (const pool of pools) {
      // a Service with a sharing key joins a compatible address already in use before taking a new one
      const shared = claimant.sharingKey === undefined ? null : this.#shareable(pool, claimant, family);
      if (shared)
        return {
          ip: formatAddress(shared),
          family,
          pool: pool.name,
          address: shared,
          id: idOf(shared),
        };
      for (const range of pool.ranges) {
        if (range.family !== family) continue;
        const mark = this.#mark(range);
        const free = firstFreeInRange(range, mark.next, pool.avoidBuggyIPs, (a) => this.#uses.has(idOf(a)));
        mark.next = free ? free.value : range.last + 1n;
        if (free)
          return {
            ip: formatAddress(free),
            family,
            pool: pool.name,
            address: free,
            id: idOf(free),
          };
      }
    }
    return null;
  }

  #shareable(pool: Pool, claimant: Claimant, family: IpFamily): Address | null {
    let best: Address | null = null;
    for (const id of this.#bySharingKey.get(claimant.sharingKey ?? '') ?? []) {
      const use = this.#uses.get(id);
      if (!use || use.address.family !== family || !poolContains(pool, use.address)) continue;
      if (this.#conflict(id, claimant)) continue;
      if (!best || use.address.value < best.value) best = use.address;
    }
    return best;
  }

  #mark(range: AddressRange): { range: AddressRange; next: bigint } {
    const id = `${range.family}:${range.first}-${range.last}`;
    let mark = this.#lowWater.get(id);
    if (!mark) {
      mark = { range, next: range.first };
      this.#lowWater.set(id, mark);
    }
    return mark;
  }

  /** Why claimant may not use the address as well, naming one current holder; null when it may. */
  #conflict(id: string, claimant: Claimant): { holder: string; why: string } | null {
    const use = this.#uses.get(id);
    if (!use) return null;
    for (const holderKey of use.holders) {
      if (holderKey === claimant.key) continue;
      const holder = this.#holdings.get(holderKey);
      if (!holder) continue;
      const why = whyNotShared(holder, claimant);
      if (why) return { holder: holderKey, why };
    }
    return null;
  }

  #hold(holding: Holding): void {
    this.#holdings.set(holding.key, holding);
    for (const held of holding.addresses) {
      let use = this.#uses.get(held.id);
      if (!use) {
        use = { address: held.address, holders: new Set() };
        this.#uses.set(held.id, use);
      }
      use.holders.add(holding.key);
      if (holding.sharingKey !== undefined) {
        let ids = this.#bySharingKey.get(holding.sharingKey);
        if (!ids) this.#bySharingKey.set(holding.sharingKey, (ids = new Set()));
        ids.add(held.id);
      }
    }
  }

  /** Forgets key's holding; returns the ids of addresses nobody holds any more. */
  #drop(key: string): string[] {
    const holding = this.#holdings.get(key);
    if (!holding) return [];
    this.#holdings.delete(key);
    const freed: string[] = [];
    for (const held of holding.addresses) {
      const use = this.#uses.get(held.id);
      use?.holders.delete(key);
      if (holding.sharingKey !== undefined && !this.#stillShares(held.id, holding.sharingKey)) {
        this.#bySharingKey.get(holding.sharingKey)?.delete(held.id);
      }
      if (use && use.holders.size > 0) continue;
      this.#uses.delete(held.id);
      freed.push(held.id);
      for (const mark of this.#lowWater.values()) {
        if (rangeContains(mark.range, held.address) && held.address.value < mark.next) mark.next = held.address.value;
      }
    }
    return freed;
  }

  #stillShares(id: string, sharingKey: string): boolean {
    for (const holder of this.#uses.get(id)?.holders ?? []) {
      if (this.#holdings.get(holder)?.sharingKey === sharingKey) return true;
    }
    return false;
  }

  #afterFreeing(freedIds: string[]): ReleaseOutcome {
    const freed = freedIds.map(addressOfId);
    const poolsWithRoom = this.#pools.ordered
      .filter((pool) => freed.some((address) => poolContains(pool, address)))
      .map((pool) => pool.name);
    const freedTexts = new Set(freed.map(formatAddress));
    const retry = [...this.#waiting].filter(
      ([, error]) =>
        (error.kind === 'AddressTaken' && freedTexts.has(error.address)) ||
        (error.kind === 'PoolExhausted' && error.pools.some((name) => poolsWithRoom.includes(name))),
    );
    return {
      freed: [...freedTexts],
      poolsWithRoom,
      retry: retry.map(([key]) => key),
    };
  }

  #fail(key: string, error: IpamError): AllocateResult {
    if (isWaitingError(error)) this.#waiting.set(key, error);
    else this.#waiting.delete(key);
    return { ok: false, error };
  }

  /** The pool an address is counted in: its recorded one while that still holds it, else the first that does. */
  #poolNameFor(address: Address, recorded: string | null): string | null {
    const current = recorded === null ? undefined : this.#pools.byName.get(recorded);
    if (current && poolContains(current, address)) return recorded;
    return this.#pools.ordered.find((pool) => poolContains(pool, address))?.name ?? recorded;
  }
}

function idOf(address: Address): string {
  return `${address.family === 'IPv4' ? '4' : '6'}:${address.value.toString(16)}`;
}

function addressOfId(id: string): Address {
  return {
    family: id.startsWith('4') ? 'IPv4' : 'IPv6',
    value: BigInt(`0x${id.slice(2)}`),
  };
}

function publicAddress(held: HeldAddress): AllocatedAddress {
  return { ip: held.ip, family: held.family, pool: held.pool };
}

/**
 * The typed face of the Node-API addon (native/l2_responder.c): per interface, a native thread that answers
 * ARP and neighbour solicitations for the addresses it is given, and a call that sends one gratuitous ARP or
 * unsolicited neighbour advertisement. Needs CAP_NET_RAW. Built by `npm run build:l2`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface ResponderStats {
  arpRequests: number;
  arpReplies: number;
  ndSolicitations: number;
  ndAdvertisements: number;
  /** gratuitous ARPs and unsolicited neighbour advertisements sent */
  announcements: number;
  /** another host claimed one of our addresses (a gratuitous ARP or a reply for it): two holders */
  conflicts: number;
  sendErrors: number;
}

type Handle = object;

interface Addon {
  open(ifname: string): Handle;
  setAddresses(handle: Handle, ips: string[]): void;
  announce(handle: Handle, ip: string): void;
  stats(handle: Handle): ResponderStats;
  mac(handle: Handle): string;
  close(handle: Handle): void;
}

export const ADDON_PATH = fileURLToPath(new URL('./native/build/l2_responder.node', import.meta.url));

let addon: Addon | undefined;

/** Loads the addon; throws naming the fix when it is not built. */
export function loadResponderAddon(): void {
  load();
}

function load(): Addon {
  if (addon) return addon;
  if (!existsSync(ADDON_PATH))
    throw new Error(
      `the L2 responder addon is not built (${ADDON_PATH}): run npm run build:l2 (needs a C compiler; npm ci builds it when one is present)`,
    );
  addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  return addon;
}

/** Answers ARP/NDP on one interface for the addresses it holds; stops answering the moment they change. */
export class LinkResponder {
  readonly interface: string;
  readonly mac: string;
  readonly #handle: Handle;
  #closed = false;

  private constructor(ifname: string, handle: Handle, mac: string) {
    this.interface = ifname;
    this.#handle = handle;
    this.mac = mac;
  }

  /** Throws with the reason (no such interface, not Ethernet, no CAP_NET_RAW). */
  static open(ifname: string): LinkResponder {
    const native = load();
    const handle = native.open(ifname);
    return new LinkResponder(ifname, handle, native.mac(handle));
  }

  /** Replaces the answered set at once: a removed address is no longer answered from this call on. */
  setAddresses(ips: readonly string[]): void {
    if (!this.#closed) load().setAddresses(this.#handle, [...ips]);
  }

  /** Sends one gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) for the address. */
  announce(ip: string): void {
    if (!this.#closed) load().announce(this.#handle, ip);
  }

  stats(): ResponderStats {
    return load().stats(this.#handle);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    load().close(this.#handle);
  }
}

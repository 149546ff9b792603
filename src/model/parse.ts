/**
 * The one annotation-parsing toolkit. Every annotation the project reads goes through an AnnotationReader,
 * so every bad value fails the same way: an InvalidAnnotationError naming the annotation, the value, and
 * what is accepted ("annotation x: 10.0.0.300 is not accepted; use an IP address"). Values are trimmed;
 * an unset annotation reads as undefined, never as an error.
 */
import ipaddr from 'ipaddr.js';
import { InvalidAnnotationError } from './errors.ts';

export class AnnotationReader {
  readonly annotations: Readonly<Record<string, string>>;

  constructor(annotations: Readonly<Record<string, string>>) {
    this.annotations = annotations;
  }

  /** Whether the annotation is set at all (an empty value counts as set). */
  has(key: string): boolean {
    return this.annotations[key] !== undefined;
  }

  /** The trimmed value, or undefined when unset. */
  string(key: string): string | undefined {
    return this.annotations[key]?.trim();
  }

  /** A value the caller checked itself and found wanting: the error names the key and what is accepted. */
  reject(key: string, value: string, accepted: string): never {
    throw new InvalidAnnotationError(key, `${quoteValue(value)} is not accepted; use ${accepted}`);
  }

  /** A whole number within [min, max]; `also` names other accepted words for the message. */
  int(key: string, range: { min: number; max: number; also?: string }): number | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < range.min || n > range.max)
      this.reject(key, raw, `${range.also ? `${range.also} or ` : ''}an integer from ${range.min} to ${range.max}`);
    return n;
  }

  /** true or false (as Kubernetes spells them). */
  bool(key: string): boolean | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    if (raw !== 'true' && raw !== 'false') this.reject(key, raw, 'true or false');
    return raw === 'true';
  }

  /** One of a fixed set of words; `ignoreCase` accepts any case and returns the spelling of `accepted`. */
  oneOf<T extends string>(key: string, accepted: readonly T[], options: { ignoreCase?: boolean } = {}): T | undefined {
    const raw = this.string(key);
    if (raw === undefined) return undefined;
    const found = accepted.find((a) => (options.ignoreCase ? a.toLowerCase() === raw.toLowerCase() : a === raw));
    if (found === undefined) this.reject(key, raw, `one of ${accepted.join(', ')}`);
    return found;
  }

  /** A comma list, items trimmed, empty items dropped; undefined when unset. */
  list(key: string): string[] | undefined {
    const raw = this.annotations[key];
    if (raw === undefined) return undefined;
    return splitList(raw);
  }

  /** A comma list of key=value pairs. */
  keyValues(key: string): Record<string, string> | undefined {
    const items = this.list(key);
    if (items === undefined) return undefined;
    const out: Record<string, string> = {};
    for (const item of items) {
      const eq = item.indexOf('=');
      if (eq <= 0) this.reject(key, item, 'a comma list of key=value');
      out[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
    }
    return out;
  }

  /** A comma list of CIDRs, each in canonical form (address/bits). */
  cidrs(key: string): string[] | undefined {
    return this.list(key)?.map((item) => canonicalCidr(item) ?? this.reject(key, item, 'CIDRs such as 203.0.113.0/24'));
  }

  /** A comma list of IP addresses of the given family (or either), in canonical form. */
  ips(key: string, family?: 'IPv4' | 'IPv6'): string[] | undefined {
    const what = family === undefined ? 'IP addresses' : `${family} addresses`;
    return this.list(key)?.map((item) => {
      const parsed = parseIp(item);
      if (!parsed || (family !== undefined && parsed.family !== family)) this.reject(key, item, what);
      return parsed.text;
    });
  }
}

/** Longest part of a user's value quoted in a message (Events and conditions must stay readable and valid). */
export const QUOTED_VALUE_MAX = 120;

/**
 * A user's value for a message: JSON-quoted, cut to QUOTED_VALUE_MAX characters with its length shown. An
 * annotation can hold 256 KiB; quoted whole, every Warning Event and the False condition carried it all
 * (stored in etcd, shown by kubectl describe) to say one value is wrong.
 */
export function quoteValue(value: string): string {
  const chars = [...value];
  if (chars.length <= QUOTED_VALUE_MAX) return JSON.stringify(value);
  return `${JSON.stringify(chars.slice(0, QUOTED_VALUE_MAX).join(''))}… (${chars.length} characters)`;
}

export function annotationReader(annotations: Readonly<Record<string, string>> | undefined): AnnotationReader {
  return new AnnotationReader(annotations ?? {});
}

export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * `address/bits` in canonical form, or undefined when the text is not a CIDR. The address is read as
 * strictly as parseIp reads one (ipaddr.js alone takes `10/8` for 0.0.0.10/8, `012.0.0.0/8` for octal 10/8
 * and `0/0` for everyone: a source range that silently means another network), the bits as plain decimal.
 */
export function canonicalCidr(text: string): string | undefined {
  const [address, bits, ...rest] = text.trim().split('/');
  if (address === undefined || bits === undefined || rest.length > 0 || !/^(0|[1-9]\d{0,2})$/.test(bits))
    return undefined;
  const ip = parseIp(address);
  if (!ip || Number(bits) > (ip.family === 'IPv4' ? 32 : 128)) return undefined;
  return `${ipaddr.parse(ip.text).toString()}/${Number(bits)}`;
}

/** A strictly written IPv4 (four decimal parts) or IPv6 address, in canonical form (RFC 5952, as in status). */
export function parseIp(text: string): { family: 'IPv4' | 'IPv6'; text: string } | undefined {
  const t = text.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(t)) return { family: 'IPv4', text: ipaddr.IPv4.parse(t).toString() };
  // a zone (fe80::1%eth0) names an interface, not an address a Service can own
  if (t.includes(':') && !t.includes('%') && ipaddr.IPv6.isValid(t))
    return { family: 'IPv6', text: ipaddr.IPv6.parse(t).toRFC5952String() };
  return undefined;
}

/**
 * A command-line flag as data: commander options, environment variables and the README's flag table are
 * all made from these, so a flag is declared once (the core's in core-flags.ts, a provider's in its
 * folder's index.ts).
 */

export interface FlagSpec {
  /** commander syntax: `--pool <cidr>`, `--class-only`, `--no-leader-elect` */
  flags: string;
  /** one line, for --help and the README's "meaning" column */
  description: string;
  /** value when the flag is not given (a list for repeatable flags); booleans default to false (`--no-x`: true) */
  default?: string | readonly string[];
  /** the README's "default" column when the value alone would not say it ("in-cluster", "SDK chain") */
  documentedDefault?: string;
  /** environment variable; `LBP_<FLAG_NAME>` when absent */
  env?: string;
  /** repeatable, and each value may be a comma-separated list */
  list?: boolean;
}

/** `--no-aws-adopt <x>` -> `no-aws-adopt` */
export function longName(spec: Pick<FlagSpec, 'flags'>): string {
  const long = /--([a-z0-9-]+)/.exec(spec.flags)?.[1];
  if (long === undefined) throw new Error(`flag spec without a long name: ${spec.flags}`);
  return long;
}

/** A flag without a `<value>` is a switch. */
export function isBoolean(spec: Pick<FlagSpec, 'flags'>): boolean {
  return !/[<[]/.test(spec.flags);
}

/** A `--no-x` switch: true unless given. */
export function isNegated(spec: Pick<FlagSpec, 'flags'>): boolean {
  return isBoolean(spec) && longName(spec).startsWith('no-');
}

/** The key commander stores the value under: `--no-aws-adopt` -> `awsAdopt`, `--pool` -> `pool`. */
export function attributeName(spec: Pick<FlagSpec, 'flags'>): string {
  const name = isNegated(spec) ? longName(spec).slice(3) : longName(spec);
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function envName(spec: Pick<FlagSpec, 'flags' | 'env'>): string {
  return spec.env ?? `LBP_${longName(spec).replace(/-/g, '_').toUpperCase()}`;
}

/** The default as the program sees it. */
export function defaultValue(spec: FlagSpec): string | boolean | readonly string[] | undefined {
  if (isBoolean(spec)) return isNegated(spec);
  return spec.default ?? (spec.list ? [] : undefined);
}

/** Flag specs -> commander options: the core's and every registered provider's, in one place. */
import { Option } from 'commander';
import { coreFlags } from '../config/core-flags.ts';
import { defaultValue, envName, isBoolean, type FlagSpec } from '../config/flag-spec.ts';
import { PROVIDERS, PROVIDER_NAMES } from '../providers.ts';

const collect = (value: string, previous: readonly string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

/** Every flag of `run`, each with the provider that reads it (undefined: the core). */
export function runFlags(): { spec: FlagSpec; provider?: string }[] {
  return [
    ...coreFlags(PROVIDER_NAMES).map((spec) => ({ spec })),
    ...PROVIDERS.flatMap((p) => p.flags.map((spec) => ({ spec, provider: p.name }))),
  ];
}

export function toOption(spec: FlagSpec, provider?: string): Option {
  const described = provider ? `${provider} provider: ${spec.description}` : spec.description;
  // commander reads a switch's variable by presence only (LBP_CLASS_ONLY=false would mean true):
  // applyBooleanEnv reads switches, so commander only shows their variable
  const description = isBoolean(spec) ? `${described} (env: ${envName(spec)}=true|false)` : described;
  const option = new Option(spec.flags, description);
  if (!isBoolean(spec)) option.env(envName(spec));
  if (spec.list) option.argParser(collect);
  const value = defaultValue(spec);
  // a --no-x switch gets its true default from commander itself
  if (value !== undefined && !isBoolean(spec)) option.default(value);
  if (isBoolean(spec) && value === false) option.default(false);
  return option;
}

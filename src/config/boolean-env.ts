/**
 * Switches set from the environment. commander only checks that such a variable exists, so
 * `LBP_CLASS_ONLY=false` would turn class-only on: we read the value, and refuse anything but a boolean.
 */
import { ConfigError } from './errors.ts';
import { attributeName, envName, isBoolean, isNegated, type FlagSpec } from './flag-spec.ts';

/** true/false/1/0 (any case); undefined for anything else */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return undefined;
}

export interface OptionStore {
  getOptionValueSource(key: string): string | undefined;
  setOptionValueWithSource(key: string, value: unknown, source: 'env'): unknown;
}

/**
 * Applies the environment to every switch the command line did not set. `LBP_NO_LEADER_ELECT=true` turns
 * leader election off; `LBP_NO_LEADER_ELECT=false` leaves it on.
 */
export function applyBooleanEnv(
  store: OptionStore,
  specs: readonly FlagSpec[],
  env: NodeJS.ProcessEnv = process.env,
): void {
  const problems: string[] = [];
  for (const spec of specs) {
    if (!isBoolean(spec)) continue;
    const key = attributeName(spec);
    const raw = env[envName(spec)];
    if (raw === undefined || store.getOptionValueSource(key) === 'cli') continue;
    const value = parseBoolean(raw);
    if (value === undefined) {
      problems.push(`${envName(spec)}: expected true, false, 1 or 0, got ${JSON.stringify(raw)}`);
      continue;
    }
    store.setOptionValueWithSource(key, isNegated(spec) ? !value : value, 'env');
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}

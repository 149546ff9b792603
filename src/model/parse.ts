/** Reading annotation values; a bad value becomes an error that names the annotation. */

import { InvalidAnnotationError } from '../provider.ts';

export function intAnnotation(
  annotations: Record<string, string>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new InvalidAnnotationError(key, `${JSON.stringify(raw)} is not a whole number`);
  const value = Number(raw.trim());
  if (value < min || value > max) {
    throw new InvalidAnnotationError(key, `${value} is outside ${min}-${max}`);
  }
  return value;
}

export function listAnnotation(annotations: Record<string, string>, key: string): string[] | undefined {
  const raw = annotations[key];
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

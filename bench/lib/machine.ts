/** What a result was measured on. */
import { cpus, hostname, release, totalmem } from 'node:os';

export function machine(): string {
  const cpu = cpus();
  return `${hostname()}: ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.versions.node}`;
}

/** 2026-05-01T10:11:12Z */
export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

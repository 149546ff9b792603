/** How doctor shows its checks: a table with the fix under each WARN and FAIL, or JSON for scripts. */
import type { DoctorCheck } from '../provider-descriptor.ts';
import { renderTable } from './table.ts';

export interface DoctorReport {
  ok: boolean;
  counts: { OK: number; WARN: number; FAIL: number };
  checks: DoctorCheck[];
}

export function doctorReport(checks: readonly DoctorCheck[]): DoctorReport {
  const counts = { OK: 0, WARN: 0, FAIL: 0 };
  for (const c of checks) counts[c.result]++;
  return { ok: counts.FAIL === 0, counts, checks: [...checks] };
}

export function renderDoctor(report: DoctorReport): string {
  const rows = report.checks.flatMap((c) => {
    const row = [c.result, c.check, c.detail];
    return c.fix && c.result !== 'OK' ? [row, ['', '', `fix: ${c.fix}`]] : [row];
  });
  const { OK, WARN, FAIL } = report.counts;
  return `${renderTable(['RESULT', 'CHECK', 'DETAIL'], rows)}\n${OK} OK, ${WARN} WARN, ${FAIL} FAIL\n`;
}

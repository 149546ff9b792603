/** How plan and status print: a table for people (the JSON for scripts is the values themselves). */
import type { PlanEntry } from './plan.ts';
import { targetsText, type ServiceStatusRow } from './status.ts';
import { renderTable } from './table.ts';

export function renderPlan(entries: readonly PlanEntry[]): string {
  if (entries.length === 0) return 'no LoadBalancer Service is ours: nothing to do\n';
  const rows = entries.flatMap((e) => [
    [e.service, e.provider, e.action, e.message ?? ''],
    ...e.steps.map((s) => ['', '', `  ${s.action}`, `${s.resource} ${s.name}${s.detail ? `: ${s.detail}` : ''}`]),
  ]);
  const count = (a: string) => entries.filter((e) => e.action === a).length;
  return `${renderTable(['SERVICE', 'PROVIDER', 'ACTION', 'DETAIL'], rows)}\n${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete, ${count('nothing')} unchanged, ${count('error')} in error\n`;
}

export function renderStatus(rows: readonly ServiceStatusRow[]): string {
  if (rows.length === 0) return 'no Service is owned by this configuration\n';
  return renderTable(
    ['SERVICE', 'CLASS', 'PROVIDER', 'ADDRESS', 'READY', 'TARGETS', 'LAST ERROR'],
    rows.map((r) => [
      r.service,
      r.class || '(none)',
      r.provider,
      r.addresses.join(',') || '<pending>',
      r.reason ? `${r.ready} (${r.reason})` : r.ready,
      targetsText(r.targets),
      r.lastError ?? '',
    ]),
  );
}

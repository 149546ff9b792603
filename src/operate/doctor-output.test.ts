import { describe, expect, it } from '@jest/globals';
import { doctorReport, renderDoctor } from './doctor-output.ts';

describe("doctor's report", () => {
  const checks = [
    { check: 'kubeconfig', result: 'OK' as const, detail: '/tmp/kc: https://127.0.0.1:6443' },
    { check: 'permissions', result: 'FAIL' as const, detail: 'may not: services/status patch', fix: 'grant it' },
    {
      check: 'other controller: kube-vip',
      result: 'WARN' as const,
      detail: 'DaemonSet kube-system/kube-vip-ds',
      fix: 'use --class-only',
    },
  ];

  it('is not ok when any check failed, and counts each result', () => {
    expect(doctorReport(checks)).toMatchObject({ ok: false, counts: { OK: 1, WARN: 1, FAIL: 1 } });
    expect(doctorReport(checks.filter((c) => c.result !== 'FAIL')).ok).toBe(true);
  });

  it('prints a table with the fix under each WARN and FAIL, and the totals', () => {
    expect(renderDoctor(doctorReport(checks))).toBe(
      [
        'RESULT  CHECK                       DETAIL',
        'OK      kubeconfig                  /tmp/kc: https://127.0.0.1:6443',
        'FAIL    permissions                 may not: services/status patch',
        '                                    fix: grant it',
        'WARN    other controller: kube-vip  DaemonSet kube-system/kube-vip-ds',
        '                                    fix: use --class-only',
        '',
        '1 OK, 1 WARN, 1 FAIL',
        '',
      ].join('\n'),
    );
  });
});

import { describe, expect, it } from '@jest/globals';
import { parsePromText, sumOf } from './prom-text.ts';

const TEXT = `# HELP lbprovisioner_provider_calls_total Provider operations by provider, operation and result
# TYPE lbprovisioner_provider_calls_total counter
lbprovisioner_provider_calls_total{provider="fake",operation="ensure",result="success"} 1000
lbprovisioner_provider_calls_total{provider="fake",operation="updateTargets",result="success"} 998
lbprovisioner_provider_calls_total{provider="fake",operation="updateTargets",result="error"} 2
lbprovisioner_leader 1
apiserver_request_total{code="201",component="apiserver",verb="POST",resource="services",subresource=""} 1.5e+03
`;

describe('Prometheus text', () => {
  it('sums a counter over the samples that match the labels', () => {
    const s = parsePromText(TEXT);
    expect(sumOf(s, 'lbprovisioner_provider_calls_total', { operation: 'updateTargets' })).toBe(1000);
    expect(sumOf(s, 'lbprovisioner_provider_calls_total', { operation: 'updateTargets', result: 'success' })).toBe(998);
    expect(sumOf(s, 'lbprovisioner_leader')).toBe(1);
  });

  it('reads exponent notation and empty label values', () => {
    const s = parsePromText(TEXT);
    expect(sumOf(s, 'apiserver_request_total', { verb: 'POST', subresource: '' })).toBe(1500);
  });

  it('is 0 for a metric that is not there', () => {
    expect(sumOf(parsePromText(TEXT), 'nothing_total')).toBe(0);
  });
});

import { describe, expect, it } from '@jest/globals';
import { classifyAwsCall, isMutating, realNlbDnsNames } from './aws-proxy.ts';

describe('AWS call classification (query protocol)', () => {
  it('reads the operation and the API from the form body', () => {
    expect(classifyAwsCall('Action=CreateTargetGroup&Version=2015-12-01&Name=k8s-abc', '')).toEqual({
      api: 'elbv2',
      action: 'CreateTargetGroup',
    });
    expect(classifyAwsCall('Action=DescribeInstances&Version=2016-11-15', '')).toEqual({
      api: 'ec2',
      action: 'DescribeInstances',
    });
    expect(classifyAwsCall('Action=DescribeLoadBalancers&Version=2012-06-01', '')).toEqual({
      api: 'elb',
      action: 'DescribeLoadBalancers',
    });
  });

  it('falls back to the query string when the body is empty', () => {
    expect(classifyAwsCall('', 'Action=DescribeRegions&Version=2016-11-15')).toEqual({
      api: 'ec2',
      action: 'DescribeRegions',
    });
  });

  it('counts everything but Describe, Get and List as mutating', () => {
    expect(isMutating('ModifyTargetGroup')).toBe(true);
    expect(isMutating('RegisterTargets')).toBe(true);
    expect(isMutating('DescribeTargetHealth')).toBe(false);
    expect(isMutating('GetSecurityGroupsForVpc')).toBe(false);
  });
});

describe('NLB DNS names', () => {
  it("rewrites moto's Classic-looking name to the NLB pattern AWS uses", () => {
    expect(realNlbDnsNames('<DNSName>a1b2-0123456789.us-east-1.elb.amazonaws.com</DNSName>')).toBe(
      '<DNSName>a1b2-0123456789.elb.us-east-1.amazonaws.com</DNSName>',
    );
  });

  it('leaves a name that already has the NLB pattern alone', () => {
    const nlb = '<DNSName>x-1.elb.us-east-1.amazonaws.com</DNSName>';
    expect(realNlbDnsNames(nlb)).toBe(nlb);
  });
});

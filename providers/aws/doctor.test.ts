/** `lb-provisioner doctor`'s AWS check against a real moto server, and against an endpoint nobody serves. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { MOTO_REGION, startMoto, type Moto } from '../../test/harness/moto.ts';
import { silentLogger } from '../../src/log.ts';
import type { DoctorContext } from '../../src/provider-descriptor.ts';
import { awsDoctor } from './doctor.ts';

let moto: Moto;
const saved = { ...process.env };
const ctx = (): DoctorContext =>
  ({ clusterName: 'doctor-it', log: silentLogger(), signal: AbortSignal.timeout(15_000) }) as DoctorContext;

beforeAll(async () => {
  moto = await startMoto();
  // the SDK's own chain, as in production: the environment
  process.env['AWS_ACCESS_KEY_ID'] = 'testing';
  process.env['AWS_SECRET_ACCESS_KEY'] = 'testing';
}, 120_000);

afterAll(async () => {
  process.env = saved;
  await moto?.stop();
});

describe('doctor: AWS credentials and ELBv2 reachability', () => {
  it('OK when DescribeLoadBalancers answers', async () => {
    const [check] = await awsDoctor({ awsRegion: MOTO_REGION, awsEndpoint: moto.endpoint }, ctx());
    expect(check).toMatchObject({ check: 'aws: credentials and ELBv2', result: 'OK' });
    expect(check?.detail).toContain(`region ${MOTO_REGION} at ${moto.endpoint}: DescribeLoadBalancers answered`);
  }, 30_000);

  it('FAIL with the fix when the endpoint does not answer', async () => {
    // a port that was free a moment ago: nothing listens there
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const [check] = await awsDoctor({ awsRegion: MOTO_REGION, awsEndpoint: `http://127.0.0.1:${port}` }, ctx());
    expect(check).toMatchObject({ result: 'FAIL' });
    expect(check?.detail).toMatch(/^region us-east-1: DescribeLoadBalancers failed: /);
    expect(check?.fix).toContain('--aws-region');
  }, 30_000);
});

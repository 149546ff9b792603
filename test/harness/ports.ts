export { freePort } from '../../src/devcluster/ports.ts';

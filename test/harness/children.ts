// Child processes that never outlive the test process: the dev cluster launcher's own.
export * from '../../src/devcluster/children.ts';

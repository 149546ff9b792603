// The control plane for tests is the product's dev cluster launcher (`lb-provisioner dev-cluster`, the demo).
export * from '../../src/devcluster/controlplane.ts';

/**
 * The V8 flags the controller ships with (Dockerfile ENV NODE_OPTIONS, deploy/controller/deployment.yaml): a small
 * young generation (1 MB semi-spaces) and a bounded old space. Measured with bench/controlplane-burst.ts:
 * without them V8 grows the heap lazily on a roomy machine and peak RSS doubles under a burst; with them
 * 1000 Services need < 64 MB of live heap. Raise --max-old-space-size for clusters with more than a few
 * thousand LoadBalancer Services (NODE_OPTIONS in the Deployment): 10,000 run out of a 96 MB old space
 * (bench/results/2026-12-06-vm-10k: they converge at a 245 MB peak RSS with 1024).
 */
export const PRODUCTION_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=96';

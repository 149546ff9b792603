/**
 * The V8 flags the controller ships with (Dockerfile ENV NODE_OPTIONS, deploy/controller/deployment.yaml): a small
 * young generation (1 MB semi-spaces) and an old space of half the memory the container may use. Node reads
 * the container's limit from its cgroup (--max-old-space-size-percentage), so the heap follows
 * `resources.limits.memory`: the Deployment's 256Mi gives a 128 MB old space, where 1000 LoadBalancer
 * Services peak at about 92 MB RSS; 10,000 need the limit raised to 512Mi and nothing else
 * (bench/controllers.ts, workload 4, runs ours in a memory cgroup of each size). Without a limit the heap may
 * grow to half the machine's memory. Measured with bench/controlplane-burst.ts: without the small young
 * generation V8 grows the heap lazily on a roomy machine and peak RSS doubles under a burst.
 */
export const PRODUCTION_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size-percentage=50';

/**
 * glibc's malloc in one arena (Dockerfile ENV, deploy/controller/deployment.yaml). By default each thread
 * that allocates (V8's background compiler and GC threads, libuv's pool) gets an arena of its own, up to
 * 8 per core, and each keeps much of what it freed: the controller's RSS changed by up to 10 MB from one
 * start to the next (92-108 MB idle in five starts). With one arena it idled at 95-97 MB, and peaked at
 * 113-114 MB in a burst of 1000 Services against 122 (bench/controllers.ts, ours-local, one round each).
 */
export const PRODUCTION_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' };

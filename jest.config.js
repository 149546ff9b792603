// jest in its ESM mode: `npm test` sets NODE_OPTIONS=--experimental-vm-modules.
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.jest.json', diagnostics: false }],
  },
  testMatch: [
    '<rootDir>/src/**/*.test.ts',
    '<rootDir>/providers/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
    // the benchmarks' pure pieces (percentiles, audit attribution, tables); never the benchmarks themselves
    '<rootDir>/bench/lib/**/*.test.ts',
    // the image's build tools
    '<rootDir>/tools/**/*.test.ts',
  ],
  testTimeout: 60_000,
  // integration files share one control plane each; keep parallelism within the 2-core machine
  maxWorkers: 2,
};

#!/usr/bin/env node
// Entry point: Node 26 runs the TypeScript sources directly (type stripping), so there is no build step.
import('../src/cli/main.ts').then((m) => m.main(process.argv));

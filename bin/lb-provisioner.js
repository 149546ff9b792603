#!/usr/bin/env node
// Entry point. From a checkout, Node 26 runs the TypeScript sources directly (type stripping): no build step.
// The image compiles them to JavaScript beside themselves and removes the .ts files (Dockerfile, build stage),
// which spares it the type stripper's memory (about 20 MB of RSS, 30 MB at its peak during start). There
// `run`, the process that stays up, loads the controller bundle (tools/bundle-controller.ts): a few modules
// holding only what `run` reaches, about 20 MB less than the compiled tree's 500 modules. Every other command
// loads the compiled tree, so no process mixes the two copies.
import { existsSync } from 'node:fs';

const at = (path) => new URL(path, import.meta.url);
const sources = at('../src/cli/main.ts');
const controller = at('../dist/main.js');
const main = existsSync(sources)
  ? sources
  : process.argv[2] === 'run' && existsSync(controller)
    ? controller
    : at('../src/cli/main.js');
import(main.href).then((m) => m.main(process.argv));

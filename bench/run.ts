/**
 * The anchors benchmark (issue 12), every workload in one run, into bench/results/<date>-<host>[-quick]/:
 *
 *   npm run bench                 the full run (about 2 hours on a shared 2-core machine)
 *   npm run bench -- --quick      a reduced run (fewer Services, one round, no 10,000-Service workload)
 *   npm run bench -- --only controllers,aws,proxy
 *
 * Runs bench/controllers.ts (workloads 1-4), bench/aws-anchor.ts (5) and bench/proxy-dataplane.ts (6; needs
 * root, wrk and haproxy, else it is skipped with the reason) as processes of their own, then writes
 * README.md there: the targets of every workload in one table, then each workload's tables and the chart.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { controllerTargets, targetsTable, type ControllersRun, type TargetRow } from './controllers/report.ts';
import { machine, now } from './lib/machine.ts';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, out: { type: 'string' } },
});
const QUICK = values.quick;
const only = values.only?.split(',');
const stamp = `${now().slice(0, 10)}-${hostname()}${QUICK ? '-quick' : ''}`;
const OUT = values.out ?? fileURLToPath(new URL(`./results/${stamp}/`, import.meta.url));
const log = (line: string) => console.error(`bench: ${line}`);

interface Part {
  name: 'controllers' | 'aws' | 'proxy';
  script: string;
  /** why it can't run here, if it can't */
  unavailable?: () => string | undefined;
}

const onPath = (cmd: string) => (process.env['PATH'] ?? '').split(':').some((d) => existsSync(join(d, cmd)));
const PARTS: Part[] = [
  { name: 'controllers', script: 'controllers.ts' },
  { name: 'aws', script: 'aws-anchor.ts' },
  {
    name: 'proxy',
    script: 'proxy-dataplane.ts',
    unavailable: () =>
      process.getuid?.() !== 0
        ? 'needs root (network namespaces)'
        : !onPath('wrk') || !onPath('haproxy')
          ? 'needs wrk and haproxy (apt-get install wrk haproxy)'
          : undefined,
  },
];

function runPart(part: Part): Promise<number> {
  return new Promise((resolve) => {
    const args = [
      fileURLToPath(new URL(`./${part.script}`, import.meta.url)),
      '--out',
      OUT,
      ...(QUICK ? ['--quick'] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

function readJson<T>(file: string): T | undefined {
  const path = join(OUT, file);
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

function readMd(file: string): string | undefined {
  const path = join(OUT, file);
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const outcome = new Map<string, string>();
  for (const part of PARTS) {
    if (only && !only.includes(part.name)) continue;
    const why = part.unavailable?.();
    if (why) {
      outcome.set(part.name, `skipped: ${why}`);
      log(`${part.name}: skipped (${why})`);
      continue;
    }
    log(`${part.name}: running bench/${part.script}${QUICK ? ' --quick' : ''}`);
    const started = Date.now();
    const code = await runPart(part);
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    outcome.set(part.name, code === 0 ? `done in ${minutes} min` : `failed (exit ${code}) after ${minutes} min`);
    log(`${part.name}: ${outcome.get(part.name)}`);
  }
  const targets: TargetRow[] = [];
  const controllers = readJson<ControllersRun>('controllers.json');
  if (controllers) targets.push(...controllerTargets(controllers));
  targets.push(...(readJson<{ targets: TargetRow[] }>('aws.json')?.targets ?? []));
  targets.push(...(readJson<{ targets: TargetRow[] }>('proxy.json')?.targets ?? []));
  const report = [
    `# Benchmarks against the anchors${QUICK ? ' (quick run)' : ''}`,
    '',
    `Measured ${now()} on ${machine()}, shared with other work (absolute figures move with the load; ratios are taken within a round).`,
    '',
    `Parts: ${PARTS.map((p) => `${p.name} ${outcome.get(p.name) ?? 'not run'}`).join('; ')}. Reproduce: \`npm run bench${QUICK ? ' -- --quick' : ''}\` (see the README's Benchmarks section).`,
    '',
    '## Targets',
    '',
    targetsTable(targets),
    '',
    '## Workloads',
    '',
    ...['controllers.md', 'aws.md', 'proxy.md'].map((f) => readMd(f) ?? ''),
  ].join('\n');
  writeFileSync(join(OUT, 'README.md'), report);
  log(`wrote ${join(OUT, 'README.md')}`);
}

await main();

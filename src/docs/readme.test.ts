import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEGIN, END, renderAnnotationTables } from './annotation-table.ts';
import { FLAGS_BEGIN, FLAGS_END, renderFlagTable } from './flag-table.ts';
import { OPERATOR_BEGIN, OPERATOR_END, renderOperatorTable } from './operator-table.ts';
import { buildProgram } from '../cli/main.ts';
import { PRODUCTION_MALLOC_ENV, PRODUCTION_NODE_OPTIONS } from '../cli/runtime-flags.ts';

const read = (rel: string) => readFileSync(fileURLToPath(new URL(rel, import.meta.url)), 'utf8');
const readme = read('../../README.md');

describe('README.md stays true', () => {
  it('has the annotation tables generated from the code (run npm run docs:readme)', () => {
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start, end + END.length)).toBe(renderAnnotationTables());
  });

  it('has the flag table generated from the flag specs (run npm run docs:readme)', () => {
    const start = readme.indexOf(FLAGS_BEGIN);
    const end = readme.indexOf(FLAGS_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start, end + FLAGS_END.length)).toBe(renderFlagTable());
  });

  it('has the operator commands table generated from the CLI definition (run npm run docs:readme)', () => {
    const start = readme.indexOf(OPERATOR_BEGIN);
    const end = readme.indexOf(OPERATOR_END);
    expect(start).toBeGreaterThan(0);
    expect(readme.slice(start, end + OPERATOR_END.length)).toBe(renderOperatorTable());
    for (const command of ['doctor', 'plan', 'status'])
      expect(renderOperatorTable()).toContain(`lb-provisioner ${command}`);
  });

  it('documents every flag of `lb-provisioner run`', () => {
    const run = buildProgram().commands.find((c) => c.name() === 'run')!;
    const flags = run.options.map((o) => o.long!).filter(Boolean);
    expect(flags.length).toBeGreaterThan(15);
    for (const flag of flags) expect(readme).toContain(`\`${flag}`);
  });

  it('shows the two commands that do everything on a fresh machine', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm ci && npm test');
  });

  it('ships the V8 flags and the malloc setting the benchmark measured, in the Dockerfile and the Deployment', () => {
    expect(read('../../Dockerfile')).toContain(`NODE_OPTIONS="${PRODUCTION_NODE_OPTIONS}"`);
    expect(read('../../deploy/controller/deployment.yaml')).toContain(`value: ${PRODUCTION_NODE_OPTIONS}`);
    for (const [name, value] of Object.entries(PRODUCTION_MALLOC_ENV)) {
      expect(read('../../Dockerfile')).toContain(`ENV ${name}=${value}`);
      expect(read('../../deploy/controller/deployment.yaml')).toMatch(
        new RegExp(`- name: ${name}\\n\\s+value: '${value}'`),
      );
    }
  });
});

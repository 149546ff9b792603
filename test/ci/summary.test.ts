/**
 * .ci/run's closing line and verdict, from what a real jest run writes: a skip, a todo or a suite that
 * crashes while loading must fail CI even though no assertion failed.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summarize, type JestResults } from '../../.ci/summary.ts';

const JEST = fileURLToPath(new URL('../../node_modules/jest/bin/jest.js', import.meta.url));
const SUMMARY = fileURLToPath(new URL('../../.ci/summary.ts', import.meta.url));
const dirs: string[] = [];

/** Runs jest on a scratch project made of these files; returns the results file's path and jest's status. */
function jestOn(files: Record<string, string>): { out: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'lbp-ci-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const out = join(dir, 'results.json');
  // NODE_OPTIONS of the outer (ESM) jest run would change how the scratch one loads its files
  const jest = spawnSync(process.execPath, [JEST, '--rootDir', dir, '--ci', '--json', '--outputFile', out], {
    cwd: dir, // not this repository's jest.config.js
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return { out, status: jest.status };
}

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as JestResults;

describe('.ci/summary.ts', () => {
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('fails a run with a skip, a todo and a suite that crashed while loading, though none failed an assertion', () => {
    const { out } = jestOn({
      'ok.test.js': "test('passes', () => expect(1).toBe(1));\ntest.skip('skipped as not root', () => {});",
      'todo.test.js': "test('passes too', () => {});\ntest.todo('later');",
      'crash.test.js': "require('./missing-module');\ntest('never runs', () => {});",
    });
    const { line, problems } = summarize(read(out));
    expect(line).toBe('2 passed, 0 failed, 2 skipped');
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/crash\.test\.js did not run: .*missing-module/),
        expect.stringMatching(/ok\.test\.js: "skipped as not root" was pending/),
        expect.stringMatching(/todo\.test\.js: "later" was todo/),
      ]),
    );
    const cli = spawnSync(process.execPath, [SUMMARY, out], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toBe('2 passed, 0 failed, 2 skipped\n');
  });

  it('passes a run where everything ran and passed', () => {
    const { out } = jestOn({ 'ok.test.js': "test('passes', () => expect(1).toBe(1));" });
    expect(summarize(read(out))).toEqual({ line: '1 passed, 0 failed, 0 skipped', problems: [] });
    expect(spawnSync(process.execPath, [SUMMARY, out], { encoding: 'utf8' }).status).toBe(0);
  });

  it('fails a run whose only flaw is a skip, which jest itself passes (what .ci/run used to trust)', () => {
    const { out, status } = jestOn({ 'ok.test.js': "test('runs', () => {});\ntest.skip('needs root', () => {});" });
    expect(status).toBe(0);
    expect(summarize(read(out))).toEqual({
      line: '1 passed, 0 failed, 1 skipped',
      problems: [expect.stringMatching(/"needs root" was pending/)],
    });
  });

  it('fails when jest wrote no results', () => {
    const cli = spawnSync(process.execPath, [SUMMARY, '/nonexistent/results.json'], { encoding: 'utf8' });
    expect(cli.status).toBe(1);
    expect(cli.stdout).toBe('0 passed, 0 failed, 0 skipped\n');
  });
});

/**
 * The closing line of .ci/run from jest's --json results, and every reason the run must fail even when no
 * assertion failed: a skipped or pending test, a todo, a suite that crashed while loading (it has no
 * assertions and says 0 failed), or results that are missing altogether.
 * Usage: node .ci/summary.ts <results.json>; prints the line on stdout, each problem on stderr, exits 1
 * when there is any.
 */
import { readFileSync } from 'node:fs';

interface AssertionResult {
  status: string;
  fullName?: string;
}

interface SuiteResult {
  name: string;
  status: string;
  message?: string;
  assertionResults?: AssertionResult[];
}

export interface JestResults {
  success?: boolean;
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  numRuntimeErrorTestSuites?: number;
  numTotalTestSuites?: number;
  testResults?: SuiteResult[];
}

export interface Summary {
  /** `N passed, N failed, N skipped` */
  line: string;
  problems: string[];
}

export function summarize(r: JestResults): Summary {
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  const failed = r.numFailedTests ?? 0;
  const problems: string[] = [];
  if (failed > 0) problems.push(`${failed} tests failed`);
  for (const suite of r.testResults ?? []) {
    const assertions = suite.assertionResults ?? [];
    const name = suite.name.replace(/^.*?\/(src|providers|test|bench)\//, '$1/');
    if (suite.status === 'failed' && assertions.every((a) => a.status !== 'failed'))
      problems.push(`${name} did not run: ${firstLine(suite.message)}`);
    for (const a of assertions)
      if (a.status === 'pending' || a.status === 'skipped' || a.status === 'todo' || a.status === 'disabled')
        problems.push(`${name}: "${a.fullName ?? '?'}" was ${a.status}`);
  }
  if ((r.numRuntimeErrorTestSuites ?? 0) > 0 && !problems.some((p) => p.includes('did not run')))
    problems.push(`${r.numRuntimeErrorTestSuites} test suites failed to run`);
  if ((r.numTotalTestSuites ?? 0) === 0) problems.push('no test suite ran');
  if (r.success === false && problems.length === 0) problems.push('jest reported failure');
  return { line: `${r.numPassedTests ?? 0} passed, ${failed} failed, ${skipped} skipped`, problems };
}

/** jest's message starts with a "● Test suite failed to run" heading: the reason is the next line */
function firstLine(message: string | undefined): string {
  const lines = (message ?? '').split('\n').map((l) => l.trim());
  return lines.find((l) => l !== '' && !l.startsWith('●')) ?? 'no message';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = process.argv[2];
  let results: JestResults;
  try {
    results = JSON.parse(readFileSync(path ?? '', 'utf8')) as JestResults;
  } catch (err) {
    console.error(`ci: no jest results in ${path} (${(err as Error).message})`);
    console.log('0 passed, 0 failed, 0 skipped');
    process.exit(1);
  }
  const { line, problems } = summarize(results);
  for (const p of problems) console.error(`ci: ${p}`);
  console.log(line);
  process.exit(problems.length > 0 ? 1 : 0);
}

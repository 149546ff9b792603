/** `npm run docs:readme`: rewrite the generated blocks of README.md (flags, annotations, operator commands) from the code. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEGIN, END, renderAnnotationTables } from './annotation-table.ts';
import { FLAGS_BEGIN, FLAGS_END, renderFlagTable } from './flag-table.ts';
import { OPERATOR_BEGIN, OPERATOR_END, renderOperatorTable } from './operator-table.ts';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

function replaceBlock(text: string, begin: string, end: string, block: string): string {
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < 0) throw new Error(`README.md has no ${begin} ... ${end} block`);
  return text.slice(0, start) + block + text.slice(stop + end.length);
}

let text = readFileSync(README, 'utf8');
text = replaceBlock(text, FLAGS_BEGIN, FLAGS_END, renderFlagTable());
text = replaceBlock(text, BEGIN, END, renderAnnotationTables());
text = replaceBlock(text, OPERATOR_BEGIN, OPERATOR_END, renderOperatorTable());
writeFileSync(README, text);
console.log('README.md flag and annotation tables updated');

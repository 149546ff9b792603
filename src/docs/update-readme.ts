/** `npm run docs:annotations`: rewrite the annotation tables in README.md from the code. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BEGIN, END, renderAnnotationTables } from './annotation-table.ts';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const text = readFileSync(README, 'utf8');
const start = text.indexOf(BEGIN);
const end = text.indexOf(END);
if (start < 0 || end < 0) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
writeFileSync(README, text.slice(0, start) + renderAnnotationTables() + text.slice(end + END.length));
console.log('README.md annotation tables updated');

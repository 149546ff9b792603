import { hello } from '../model/x.ts';
export async function main(argv: string[]): Promise<void> { console.log(hello(argv.join(','))); }

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * Lines of a (possibly very large) text file, streamed, with 1-based line numbers. Strips a trailing
 * CR (files saved on Windows) and a UTF-8 byte-order mark on the first line.
 */
export async function* readLines(file: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  let n = 0;
  for await (let text of rl) {
    n++;
    if (n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    yield { line: n, text };
  }
}

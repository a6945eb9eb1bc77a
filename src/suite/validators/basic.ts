import { Problems, asObject, checkInputEcho, num, type Json } from './util.js';

/** helloworld: exactly n greeting lines, all for the same name. */
export function validateHelloworld(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const n = Math.floor(num(event, 'n', 1));
  const name = typeof event.name === 'string' ? event.name : out.name;
  p.check(typeof name === 'string' && name.length > 0, 'no name in the output');
  const lines = typeof out.message === 'string' ? out.message.split('\n') : [];
  p.check(lines.length === n, `expected ${n} greeting line(s), got ${lines.length}`);
  p.check(lines.every((l) => l === `Hello, ${String(name)}!`), `unexpected greeting: ${JSON.stringify(lines[0])}`);
  checkInputEcho(out, event, p);
  return p.list;
}

/** The n-th Fibonacci number, recomputed here. */
export function fibonacci(n: number): bigint {
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** fibonacci: n within the variation window of the requested n, and the value recomputed. */
export function validateFibonacci(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const requested = Math.floor(num(event, 'n', 1000));
  const n = out.n;
  if (!p.check(typeof n === 'number' && n >= requested && n < requested + 16, `n ${String(n)} outside [${requested}, ${requested + 16})`)) return p.list;
  const expected = fibonacci(n as number).toString();
  p.check(out.value === expected, `fib(${String(n)}) is wrong: got ${String(out.value).slice(0, 40)}…, expected ${expected.slice(0, 40)}…`);
  p.check(out.digits === expected.length, `digits ${String(out.digits)} != ${expected.length}`);
  checkInputEcho(out, event, p);
  return p.list;
}

/** chameleon: one header row plus `rows` rows of `cols` cells, and the markup in the data escaped. */
export function validateChameleon(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const rows = Math.floor(num(event, 'rows', 100));
  const cols = Math.floor(num(event, 'cols', 6));
  const html = out.html;
  if (!p.check(typeof html === 'string', 'no html in the output')) return p.list;
  const count = (re: RegExp) => (html as string).match(re)?.length ?? 0;
  p.check(/^\s*<table[\s>]/.test(html as string) && /<\/table>\s*$/.test(html as string), 'html is not one <table> element');
  p.check(count(/<tr[\s>]/g) === rows + 1, `expected ${rows + 1} <tr>, got ${count(/<tr[\s>]/g)}`);
  p.check(count(/<td[\s>]/g) === rows * cols, `expected ${rows * cols} <td>, got ${count(/<td[\s>]/g)}`);
  p.check(count(/<th[\s>]/g) === cols, `expected ${cols} <th>, got ${count(/<th[\s>]/g)}`);
  if (cols >= 5) {
    // Every row's note is "<b>note</b> & more": unescaped it would appear as real markup.
    p.check(count(/&lt;b&gt;note&lt;\/b&gt; &amp; more/g) === rows, 'cell text was not HTML-escaped');
    p.check(!(html as string).includes('<b>'), 'raw <b> markup leaked into the page');
  }
  p.check(out.bytes === Buffer.byteLength(html as string), 'bytes does not match the html length');
  checkInputEcho(out, event, p);
  return p.list;
}

/** json-serdes: a document of about `mb` MB, re-serialised to the same length, records well-formed. */
export function validateJsonSerdes(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const want = num(event, 'mb', 1) * 2 ** 20;
  const bytesIn = out.bytesIn as number;
  // The generator stops after the record that crosses the target size: at most one record (< 1 KB) over.
  p.check(typeof bytesIn === 'number' && bytesIn >= want && bytesIn < want + 2048, `bytesIn ${String(bytesIn)} is not ~${want}`);
  p.check(out.bytesOut === bytesIn, `compact re-serialisation changed the length: ${String(out.bytesOut)} vs ${String(bytesIn)}`);
  p.check(out.reparsedEqual === true, 're-parsed document differs from the original');
  const records = out.records as number;
  p.check(typeof records === 'number' && records > 0 && bytesIn / records > 80 && bytesIn / records < 600, `implausible record count ${String(records)}`);
  const s = out.sample as Json | undefined;
  p.check(
    typeof s === 'object' && s !== null && s.id === 0 && typeof s.name === 'string' && Array.isArray(s.tags) && Array.isArray(s.history) &&
      typeof (s.address as Json | undefined)?.city === 'string',
    'first record does not have the generated schema',
  );
  p.check(typeof out.outSha256 === 'string' && /^[0-9a-f]{64}$/.test(out.outSha256), 'outSha256 is not a SHA-256');
  checkInputEcho(out, event, p);
  return p.list;
}

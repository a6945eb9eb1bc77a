// FunctionBench's json_dumps_loads: parses an N MB JSON document, walks it, and re-serialises it.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { POOLED_MB, makeDocument, poolPath } from './inputs.mjs';
import { pickInput, sizeParam } from './inputmode.mjs';

const DATA = fileURLToPath(new URL('./data', import.meta.url));

export async function handler(event, context) {
  const input = pickInput(event, context);
  const mb = sizeParam(event, 'mb', POOLED_MB, 512);
  // Pooled documents come from disk (like FunctionBench's object-store read); others are built here.
  const generated = !(input.pooled && mb === POOLED_MB && (event?.seed ?? 1) === 1);
  const text = generated ? makeDocument(mb * 2 ** 20, input.seed) : await readFile(poolPath(DATA, input.index), 'utf8');
  const doc = JSON.parse(text);
  const stats = summarise(doc);
  const out = JSON.stringify(doc);
  const again = summarise(JSON.parse(out));
  return {
    mb,
    bytesIn: Buffer.byteLength(text),
    bytesOut: Buffer.byteLength(out),
    ...stats,
    reparsedEqual: again.records === stats.records && again.scoreSum === stats.scoreSum && again.tags === stats.tags,
    outSha256: createHash('sha256').update(out).digest('hex'),
    sample: doc.records[0],
    generated,
    input,
  };
}

// Touches every record so parsing cannot be skipped lazily and the re-serialised copy can be compared.
function summarise(doc) {
  let scoreSum = 0, tags = 0, history = 0;
  for (const r of doc.records) {
    scoreSum += r.score;
    tags += r.tags.length;
    history += r.history.length;
  }
  return { records: doc.records.length, scoreSum: Math.round(scoreSum * 100) / 100, tags, history };
}

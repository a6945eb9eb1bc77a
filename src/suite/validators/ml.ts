import { Problems, asObject, checkInputEcho, num, type Json } from './util.js';

/** Label sets of the classifiers (functions/_shared/reviews.py, functions/cnn-serving/shapes.mjs). */
export const REVIEW_LABELS = ['negative', 'positive'];
export const SHAPE_LABELS = ['circle', 'square', 'triangle', 'cross'];
/** The syllables the rnn-serving training names are made of (functions/rnn-serving/inputs.py). */
export const NAME_SYLLABLES = ['ka', 'ri', 'to', 'mi', 'na', 'lo', 'sa', 've', 'den', 'mar', 'el', 'an', 'jo', 'li', 'ra', 'bo'];

type Prediction = { label?: unknown; probability?: unknown; truth?: unknown };

/** Shared by the serving validators: n predictions from the label set, accuracy over the known truth. */
function checkPredictions(out: Json, n: number, labels: string[], minAccuracy: number, p: Problems): void {
  const preds = Array.isArray(out.predictions) ? (out.predictions as Prediction[]) : [];
  p.check(preds.length === n, `expected ${n} predictions, got ${preds.length}`);
  p.check(JSON.stringify(out.labels) === JSON.stringify(labels), `label set ${JSON.stringify(out.labels)}, expected ${JSON.stringify(labels)}`);
  const bad = preds.filter((x) => !labels.includes(String(x.label)));
  p.check(bad.length === 0, `predicted classes outside the label set: ${bad.map((x) => String(x.label)).slice(0, 3).join(', ')}`);
  const probOk = preds.every((x) => typeof x.probability === 'number' && x.probability >= 1 / labels.length - 1e-6 && x.probability <= 1 + 1e-6);
  p.check(probOk, 'a probability is outside [1/classes, 1]');
  const known = preds.filter((x) => typeof x.truth === 'string');
  if (known.length >= 8) {
    const acc = known.filter((x) => x.label === x.truth).length / known.length;
    p.check(acc >= minAccuracy, `accuracy ${acc.toFixed(2)} below ${minAccuracy} (chance is ${(1 / labels.length).toFixed(2)})`);
  }
}

/** lr-training: a two-class model that generalises to the held-out fifth. */
export function validateLrTraining(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const rows = Math.floor(num(event, 'rows', 2000));
  p.check(out.rows === rows && (out.trainRows as number) + (out.testRows as number) === rows, `trained on ${String(out.rows)} rows, expected ${rows}`);
  p.check(JSON.stringify(out.classes) === JSON.stringify(REVIEW_LABELS), `classes ${JSON.stringify(out.classes)}`);
  p.check(typeof out.testAccuracy === 'number' && out.testAccuracy >= 0.75, `held-out accuracy ${String(out.testAccuracy)} below 0.75`);
  p.check(typeof out.vocabulary === 'number' && out.vocabulary > 50, `vocabulary of ${String(out.vocabulary)} terms`);
  p.check(typeof out.modelBytes === 'number' && out.modelBytes > 1000, 'model was not serialised');
  checkInputEcho(out, event, p);
  return p.list;
}

/** lr-serving: labels from the set; on generated reviews (truth known) clearly better than chance. */
export function validateLrServing(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const n = Array.isArray(event.reviews) ? event.reviews.length : Math.floor(num(event, 'n', 16));
  checkPredictions(out, n, REVIEW_LABELS, 0.75, p);
  checkInputEcho(out, event, p);
  return p.list;
}

/** cnn-serving: classes from the shape label set; clearly better than chance on generated images. */
export function validateCnnServing(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  checkPredictions(out, Math.floor(num(event, 'n', 8)), SHAPE_LABELS, 0.6, p);
  checkInputEcho(out, event, p);
  return p.list;
}

/** rnn-serving: n names of letters, honouring maxLen and startLetters, mostly in the learnt "language". */
export function validateRnnServing(output: unknown, event: Json): string[] {
  const p = new Problems();
  const out = asObject(output, p);
  if (!out) return p.list;
  const n = Math.floor(num(event, 'n', 10));
  const maxLen = Math.floor(num(event, 'maxLen', 12));
  const start = typeof event.startLetters === 'string' ? event.startLetters : '';
  const names = Array.isArray(out.names) ? (out.names as unknown[]).map(String) : [];
  p.check(names.length === n, `expected ${n} names, got ${names.length}`);
  p.check(names.every((s) => /^[a-z]+$/.test(s) && s.length <= maxLen), 'a name is empty, too long, or not lower-case letters');
  if (start) p.check(names.every((s, i) => s.startsWith(start[i % start.length]!)), 'a name does not begin with its start letter');
  // An untrained network emits letter soup; a trained one mostly strings together the syllables.
  const word = new RegExp(`^(${NAME_SYLLABLES.join('|')})+$`);
  const fluent = names.filter((s) => word.test(s)).length;
  if (n >= 5) p.check(fluent / n >= 0.5, `only ${fluent} of ${n} names are made of the training syllables`);
  checkInputEcho(out, event, p);
  return p.list;
}

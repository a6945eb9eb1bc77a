import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../manifest/schema.js';
import { validateChameleon, validateFibonacci, validateHelloworld, validateJsonSerdes } from './validators/basic.js';
import { validateAes, validateAuth } from './validators/crypto.js';
import { validateImageRotate, validateVideo } from './validators/media.js';
import { validateCnnServing, validateLrServing, validateLrTraining, validateRnnServing } from './validators/ml.js';
import type { SuiteEvent, SuiteFunction, Validator } from './types.js';

/**
 * The function suite: name → folder, runtime, sample input, output validator. Order is cheap first,
 * so `suite check` reports the quick ones before the model-loading ones.
 */

/** The repository's functions/ folder (this file is src/suite/ or dist/suite/: two levels below the root). */
export const FUNCTIONS_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../functions');

const ENTRIES: Array<[name: string, runtime: Runtime, validate: Validator, needsData: boolean]> = [
  ['helloworld-node', 'node', validateHelloworld, false],
  ['helloworld-python', 'python', validateHelloworld, false],
  ['fibonacci-node', 'node', validateFibonacci, false],
  ['fibonacci-python', 'python', validateFibonacci, false],
  ['auth-node', 'node', validateAuth, false],
  ['auth-python', 'python', validateAuth, false],
  ['aes', 'node', validateAes, false],
  ['pyaes', 'python', validateAes, false],
  ['chameleon', 'python', validateChameleon, false],
  ['json-serdes-node', 'node', validateJsonSerdes, true],
  ['json-serdes-python', 'python', validateJsonSerdes, true],
  ['image-rotate-node', 'node', validateImageRotate, true],
  ['image-rotate-python', 'python', validateImageRotate, true],
  ['video-processing', 'python', validateVideo, true],
  ['rnn-serving', 'python', validateRnnServing, true],
  ['lr-serving', 'python', validateLrServing, true],
  ['lr-training', 'python', validateLrTraining, true],
  ['cnn-serving', 'node', validateCnnServing, true],
];

export function catalogue(functionsDir = FUNCTIONS_DIR): SuiteFunction[] {
  return ENTRIES.map(([name, runtime, validate, needsData]) => ({
    name,
    runtime,
    dir: join(functionsDir, name),
    sampleInputPath: join(functionsDir, name, 'sample-input.json'),
    needsData,
    validate,
  }));
}

/** Looks functions up by name; throws on an unknown name so a typo in `--only` is not silently skipped. */
export function selectFunctions(names: string[] | undefined, functionsDir = FUNCTIONS_DIR): SuiteFunction[] {
  const all = catalogue(functionsDir);
  if (!names || names.length === 0) return all;
  return names.map((n) => {
    const fn = all.find((f) => f.name === n);
    if (!fn) throw new Error(`unknown suite function "${n}" (known: ${all.map((f) => f.name).join(', ')})`);
    return fn;
  });
}

export async function sampleInput(fn: SuiteFunction): Promise<SuiteEvent> {
  return JSON.parse(await readFile(fn.sampleInputPath, 'utf8')) as SuiteEvent;
}

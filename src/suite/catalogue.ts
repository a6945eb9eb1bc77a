import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Runtime } from '../manifest/schema.js';
import { validateChameleon, validateFibonacci, validateHelloworld, validateJsonSerdes } from './validators/basic.js';
import { validateAes, validateAuth } from './validators/crypto.js';
import { validateImageRotate, validateVideo } from './validators/media.js';
import { validateCnnServing, validateLrServing, validateLrTraining, validateRnnServing } from './validators/ml.js';
import { validateHelloworldGrpc, validateVswarmAes, validateVswarmAuth, validateVswarmFibonacci } from './validators/vswarm.js';
import type { SuiteEvent, SuiteFunction, Validator } from './types.js';

/**
 * The function suite: name → folder, runtime, sample input, output validator. Order is cheap first,
 * so `suite check` reports the quick ones before the model-loading ones.
 */

/** The repository's root (this file is src/suite/ or dist/suite/: two levels below it). */
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
/** The repository's functions/ folder: the HTTP functions. */
export const FUNCTIONS_DIR = join(ROOT, 'functions');
/** vSwarm's gRPC functions (examples/vswarm/README.md) and the protos their calls are encoded with. */
export const VSWARM_DIR = join(ROOT, 'examples/vswarm');
export const VSWARM_PROTOS = join(ROOT, 'protos/vswarm/proto');

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

/**
 * The gRPC functions: vSwarm's servers, deployed as they are (a folder each, `protocol: "grpc"`) under
 * a `vswarm-` name (two share their folder's name with an HTTP function above), and the kit's
 * helloworld greeter. Each sample is the request message; the reply is decoded from protobuf.
 */
const GRPC_ENTRIES: Array<[name: string, dir: string, runtime: Runtime, proto: string, method: string, sample: SuiteEvent, validate: Validator]> = [
  ['grpc-echo', join(ROOT, 'bench/functions/grpc-echo'), 'node', join(VSWARM_PROTOS, 'helloworld/helloworld.proto'), 'helloworld.Greeter/SayHello', { name: 'suite' }, validateHelloworldGrpc],
  ['vswarm-fibonacci-python', join(VSWARM_DIR, 'fibonacci-python'), 'python', join(VSWARM_PROTOS, 'fibonacci/fibonacci.proto'), 'fibonacci.Greeter/SayHello', { name: '90' }, validateVswarmFibonacci],
  ['vswarm-fibonacci-nodejs', join(VSWARM_DIR, 'fibonacci-nodejs'), 'node', join(VSWARM_PROTOS, 'fibonacci/fibonacci.proto'), 'fibonacci.Greeter/SayHello', { name: '90' }, validateVswarmFibonacci],
  ['vswarm-aes-python', join(VSWARM_DIR, 'aes-python'), 'python', join(VSWARM_PROTOS, 'aes/aes.proto'), 'aes.Aes/ShowEncryption', { plaintext_message: 'A unique message for the suite' }, validateVswarmAes],
  ['vswarm-auth-python', join(VSWARM_DIR, 'auth-python'), 'python', join(VSWARM_PROTOS, 'auth/auth.proto'), 'auth.Greeter/SayHello', { name: 'allow' }, validateVswarmAuth],
  ['vswarm-auth-nodejs', join(VSWARM_DIR, 'auth-nodejs'), 'node', join(VSWARM_PROTOS, 'auth/auth.proto'), 'auth.Greeter/SayHello', { name: 'allow' }, validateVswarmAuth],
];

/** The HTTP functions of `functionsDir` (default functions/), then the gRPC ones. */
export function catalogue(functionsDir = FUNCTIONS_DIR): SuiteFunction[] {
  const http = ENTRIES.map(([name, runtime, validate, needsData]): SuiteFunction => ({
    name,
    runtime,
    dir: join(functionsDir, name),
    sampleInputPath: join(functionsDir, name, 'sample-input.json'),
    needsData,
    validate,
  }));
  const grpc = GRPC_ENTRIES.map(([name, dir, runtime, proto, method, sample, validate]): SuiteFunction => ({
    name,
    runtime,
    dir,
    sample,
    needsData: false,
    validate,
    grpc: { proto, method },
  }));
  return [...http, ...grpc];
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
  if (fn.sample) return structuredClone(fn.sample);
  if (!fn.sampleInputPath) throw new Error(`${fn.name} has no sample input`);
  return JSON.parse(await readFile(fn.sampleInputPath, 'utf8')) as SuiteEvent;
}

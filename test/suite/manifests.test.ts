import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/manifest/validate.js';
import { loadUnaryMethod } from '../../src/grpc/unary.js';
import { FUNCTIONS_DIR, catalogue } from '../../src/suite/catalogue.js';

/** The HTTP functions (functions/); the gRPC ones (vSwarm's) are checked at the end. */
const fns = catalogue().filter((f) => !f.grpc);
const grpcFns = catalogue().filter((f) => f.grpc);

describe('suite function folders', () => {
  it('the catalogue lists every function folder, and only those', () => {
    const dirs = readdirSync(FUNCTIONS_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('_') && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
    expect(fns.map((f) => f.name).sort()).toEqual(dirs);
  });

  it('covers the functions and runtimes issue 8 asks for', () => {
    const byName = new Map(fns.map((f) => [f.name, f.runtime]));
    for (const [n, r] of Object.entries({
      'helloworld-node': 'node', 'helloworld-python': 'python', chameleon: 'python', pyaes: 'python', aes: 'node',
      'image-rotate-python': 'python', 'image-rotate-node': 'node', 'json-serdes-node': 'node', 'json-serdes-python': 'python',
      'lr-training': 'python', 'lr-serving': 'python', 'cnn-serving': 'node', 'rnn-serving': 'python', 'video-processing': 'python',
      'fibonacci-node': 'node', 'fibonacci-python': 'python', 'auth-node': 'node', 'auth-python': 'python',
    })) expect(byName.get(n), n).toBe(r);
  });

  for (const fn of fns) {
    describe(fn.name, () => {
      it('has a valid manifest named after its folder, with the catalogue runtime', () => {
        const manifest = parseManifest(JSON.parse(readFileSync(join(fn.dir, 'function.json'), 'utf8')));
        expect(manifest.name).toBe(fn.name);
        expect(manifest.runtime).toBe(fn.runtime);
        const [file] = manifest.handler.split('.');
        expect(existsSync(join(fn.dir, `${file}${fn.runtime === 'node' ? '.mjs' : '.py'}`))).toBe(true);
        // Python with scikit-learn or numpy needs a few hundred MB; nothing needs more than 512 here.
        expect(manifest.memoryMB).toBeGreaterThanOrEqual(128);
        expect(manifest.memoryMB).toBeLessThanOrEqual(512);
      });

      it('has a one-line README and a sample input with an input mode and a size parameter', () => {
        const readme = readFileSync(join(fn.dir, 'README.md'), 'utf8').trim().split('\n').filter((l) => l && !l.startsWith('#'));
        expect(readme).toHaveLength(1);
        const sample = JSON.parse(readFileSync(fn.sampleInputPath!, 'utf8')) as Record<string, unknown>;
        expect(sample.inputMode).toBe('same');
        expect(Object.values(sample).some((v) => typeof v === 'number')).toBe(true);
      });
    });
  }
});

describe('suite gRPC functions', () => {
  it('vSwarm\'s servers and the helloworld greeter, each a gRPC folder with a unary method of its proto', () => {
    expect(grpcFns.map((f) => f.name)).toEqual(
      expect.arrayContaining(['grpc-echo', 'vswarm-fibonacci-python', 'vswarm-fibonacci-nodejs', 'vswarm-aes-python', 'vswarm-auth-python', 'vswarm-auth-nodejs']),
    );
    const names = catalogue().map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const fn of grpcFns) {
      const manifest = parseManifest(JSON.parse(readFileSync(join(fn.dir, 'function.json'), 'utf8')));
      expect(manifest.protocol, fn.name).toBe('grpc');
      expect(manifest.runtime, fn.name).toBe(fn.runtime);
      expect(manifest.command, fn.name).toBeDefined();
      const method = loadUnaryMethod(fn.grpc!.proto, fn.grpc!.method);
      expect(method.path).toBe(`/${fn.grpc!.method}`);
      // the sample is a request message of the method: it encodes
      expect(method.encode(fn.sample!).length).toBeGreaterThan(5);
    }
  });
});

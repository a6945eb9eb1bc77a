import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import buildCommand from '../../src/cli/commands/build.js';
import { UsageError } from '../../src/cli/command.js';
import { buildImage, DEFAULT_BASE_CACHE, type BuildResult } from '../../src/image-build/build.js';
import { nodeImports, pythonImports } from '../../src/image-build/contents.js';

/**
 * `hivelab build`'s archive as the OCI image spec defines it, and its determinism: the same folder
 * and base give byte-identical archives; a changed handler changes only the function layer. The
 * base comes from the shared cache (made by mmdebstrap on a cold machine, as root: minutes).
 */

const run = promisify(execFile);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const root = process.getuid?.() === 0;

describe('what the image builder reads from a function', () => {
  it('finds top-level Python imports and bare Node packages, not builtins or relative paths', () => {
    expect(pythonImports('import os, sys\nfrom concurrent import futures\nimport grpc\nfrom proto.aes import aes_pb2\n  import numpy as np\nfrom . import x\n# import nothing\n')).toEqual(['concurrent', 'grpc', 'numpy', 'os', 'proto', 'sys']);
    expect(nodeImports(`const a = require('@grpc/grpc-js/build/src');\nimport x from 'yaml';\nconst p = require('process');\nimport('./local.js');\nrequire("node:fs");\nexport { y } from 'zod';`)).toEqual(['@grpc/grpc-js', 'yaml', 'zod']);
  });
});

describe.skipIf(!root)('hivelab build: the archive', () => {
  let dir: string;
  let a: BuildResult;
  let b: BuildResult;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hivelab-build-unit-'));
    a = await buildImage({ dir: 'examples/hello-python', out: join(dir, 'a.tar'), baseCache: DEFAULT_BASE_CACHE });
    b = await buildImage({ dir: 'examples/hello-python', out: join(dir, 'b.tar'), baseCache: DEFAULT_BASE_CACHE });
  }, 900_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is deterministic: the same folder gives the same bytes and digests', async () => {
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(sha256(await readFile(b.out))).toBe(sha256(await readFile(a.out)));
  });

  it('is an OCI image layout in a tar with the spec\'s media types, and the config Knative needs', async () => {
    const layout = join(dir, 'layout');
    await mkdir(layout);
    await run('tar', ['-xf', a.out, '-C', layout]);
    expect(JSON.parse(await readFile(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const blob = (d: string) => readFile(join(layout, 'blobs/sha256', d.slice('sha256:'.length)));
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests[0].mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('latest');
    const manifestBytes = await blob(index.manifests[0].digest);
    expect(sha256(manifestBytes)).toBe(a.manifestDigest);
    const manifest = JSON.parse(manifestBytes.toString());
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.config.mediaType).toBe('application/vnd.oci.image.config.v1+json');
    const config = JSON.parse((await blob(manifest.config.digest)).toString());
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers' } });
    expect(config.config).toMatchObject({
      User: '65534:65534',
      WorkingDir: '/var/task',
      Entrypoint: ['/usr/bin/python3', '/opt/hivelab/runtime/python/shim.py'],
      ExposedPorts: { '8080/tcp': {} },
    });
    expect(config.config.Env).toContain('PORT=8080');
    expect(config.config.Env).toContain('HIVELAB_HANDLER=main.handler');
    expect(JSON.parse(config.config.Labels['dev.hivelab.function.manifest']).name).toBe('hello-python');
    // Every layer: gzip'd tar, digest of the blob in the manifest, digest of the tar in diff_ids.
    expect(manifest.layers).toHaveLength(3);
    for (const [i, l] of manifest.layers.entries()) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      const gz = await blob(l.digest);
      expect(sha256(gz)).toBe(l.digest);
      expect(gz.length).toBe(l.size);
      if (i > 0) expect(sha256(gunzipSync(gz))).toBe(config.rootfs.diff_ids[i]);
    }
    // The build's own layers: owned by root, one fixed mtime, no leading "./".
    const fnLayer = join(layout, 'blobs/sha256', manifest.layers[2].digest.slice('sha256:'.length));
    const listing = (await run('tar', ['-tvzf', fnLayer, '--numeric-owner', '--full-time'])).stdout.trim().split('\n');
    expect(listing.some((l) => / var\/task\/main\.py$/.test(l))).toBe(true);
    for (const line of listing) {
      expect(line).toMatch(/^\S+ 0\/0 .* 1970-01-01 00:00:00 var\/(task\/\S*)?$/);
    }
  });

  it('a changed handler changes the function layer only', async () => {
    const fn = join(dir, 'changed');
    await cp('examples/hello-python', fn, { recursive: true });
    await writeFile(join(fn, 'main.py'), `${await readFile(join(fn, 'main.py'), 'utf8')}\n# changed\n`);
    const c = await buildImage({ dir: fn, out: join(dir, 'c.tar'), baseCache: DEFAULT_BASE_CACHE, docker: true });
    expect(c.layers.slice(0, -1).map((l) => l.digest)).toEqual(a.layers.slice(0, -1).map((l) => l.digest));
    expect(c.layers.at(-1)!.digest).not.toBe(a.layers.at(-1)!.digest);
    // docker-archive: the same layout plus Docker's manifest.json naming the same blobs
    const names = (await run('tar', ['-tf', c.out])).stdout.trim().split('\n');
    expect(names).toContain('manifest.json');
    const docker = JSON.parse((await run('tar', ['-xOf', c.out, 'manifest.json'])).stdout);
    expect(docker[0].RepoTags).toEqual(['hivelab/hello-python:latest']);
    expect(docker[0].Layers).toEqual(c.layers.map((l) => `blobs/sha256/${l.digest.slice('sha256:'.length)}`));
  }, 300_000);
});

describe('hivelab build: bad input is refused with the problem named', () => {
  it('no folder, no function.json, no --out, bad --format', async () => {
    await expect(buildCommand.run(['/nonexistent/fn', '--out', '/tmp/x.tar'])).rejects.toThrow(new UsageError('/nonexistent/fn is not a folder'));
    const empty = await mkdtemp(join(tmpdir(), 'hivelab-build-empty-'));
    try {
      await expect(buildCommand.run([empty, '--out', '/tmp/x.tar'])).rejects.toThrow(/has no function\.json/);
      await expect(buildCommand.run(['examples/hello-node'])).rejects.toThrow(/--out IMAGE\.tar is required/);
      await expect(buildCommand.run(['examples/hello-node', '--out', '/tmp/x.tar', '--format', 'zip'])).rejects.toThrow(/--format must be oci-archive or docker-archive/);
      await expect(buildCommand.run(['examples/hello-node', '--out', '/tmp/x.tar', '--package', 'Bad Name'])).rejects.toThrow(/not a Debian package name/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});

import { describe, expect, test } from 'vitest';
import { looksLikeRegistryRef, parseRegistryRef } from '../../src/image/registry-ref.js';
import { credentialsFrom, parseChallenge } from '../../src/image/registry-auth.js';
import { envRecord, firstTcpPort, lookupUser, parsePasswd } from '../../src/image/image-config.js';
import { pickManifest } from '../../src/image/oci-types.js';
import { entryComponents, resolveInside } from '../../src/image/entry-name.js';
import { nameFromRef } from '../../src/cli/commands/deploy.js';

// The pure parts of image references, registry auth and the config mapping.

describe('registry references', () => {
  test('host, port, nested name, tag, digest, scheme', () => {
    expect(parseRegistryRef('localhost:5000/lab/hello:v1')).toMatchObject({ scheme: 'https', host: 'localhost:5000', name: 'lab/hello', reference: 'v1' });
    expect(parseRegistryRef('127.0.0.1:5000/hello', true)).toMatchObject({ scheme: 'http', name: 'hello', reference: 'latest' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseRegistryRef(`http://reg.example:80/a/b/c@${d}`)).toMatchObject({ scheme: 'http', host: 'reg.example:80', name: 'a/b/c', reference: d });
    expect(() => parseRegistryRef('localhost:5000/Hello')).toThrow(/not a valid repository name/);
    expect(() => parseRegistryRef('localhost:5000/h@sha256:zz')).toThrow(/not a sha256 digest/);
    expect(() => parseRegistryRef('localhost:5000/h:bad tag')).toThrow(/not a valid tag/);
  });

  test('what reads as a registry reference and what as a path', () => {
    expect(looksLikeRegistryRef('localhost:5000/x')).toBe(true);
    expect(looksLikeRegistryRef('registry.example/x:1')).toBe(true);
    expect(looksLikeRegistryRef('localhost/x')).toBe(true);
    expect(looksLikeRegistryRef('./images/x.tar')).toBe(false);
    expect(looksLikeRegistryRef('images/x.tar')).toBe(false);
    expect(looksLikeRegistryRef('/abs/x.tar')).toBe(false);
  });

  test('function names from references', () => {
    expect(nameFromRef('localhost:5000/team/hello:1')).toBe('hello');
    expect(nameFromRef('docker-archive:/tmp/My_App.tar')).toBe('my-app');
    expect(nameFromRef(`reg.example/x/y@sha256:${'b'.repeat(64)}`)).toBe('y');
    expect(nameFromRef('oci:./layout:v1')).toBe('layout');
  });
});

describe('registry auth', () => {
  test('WWW-Authenticate challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    });
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } });
  });

  test('credentials from flags or HIVELAB_REGISTRY_AUTH (a password may hold colons)', () => {
    expect(credentialsFrom('u', 'p', undefined)).toEqual({ username: 'u', password: 'p' });
    expect(credentialsFrom(undefined, undefined, 'me:pa:ss')).toEqual({ username: 'me', password: 'pa:ss' });
    expect(credentialsFrom(undefined, undefined, '')).toBeUndefined();
    expect(() => credentialsFrom('u', undefined, undefined)).toThrow(/both --registry-user and --registry-password/);
    expect(() => credentialsFrom(undefined, undefined, 'nocolon')).toThrow(/user:password/);
  });
});

describe('image config', () => {
  test('Env, ExposedPorts, User', () => {
    expect(envRecord(['A=1', 'B=x=y', 'C', '=bad'])).toEqual({ A: '1', B: 'x=y', C: '' });
    expect(firstTcpPort({ '53/udp': {}, '8081': {}, '9000/tcp': {} })).toBe(8081);
    expect(firstTcpPort({ '53/udp': {} })).toBeUndefined();
    const pw = parsePasswd('root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/srv/app:/bin/sh\nbroken line\n');
    expect(lookupUser('app:app', pw, 'r')?.home).toBe('/srv/app');
    expect(lookupUser('1000', pw, 'r')?.home).toBe('/srv/app');
    expect(lookupUser('4242', pw, 'r')).toBeUndefined();
    expect(() => lookupUser('ghost', pw, 'r')).toThrow(/"ghost" is not in its \/etc\/passwd/);
  });

  test('an index: this host\'s platform, else a clear list', () => {
    const m = (os: string, architecture: string, digest: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, platform: { os, architecture } });
    const index = { manifests: [m('linux', 'arm64', 'sha256:1'), m('linux', 'amd64', 'sha256:2'), m('unknown', 'unknown', 'sha256:3')] };
    expect(pickManifest(index, 'r', { os: 'linux', architecture: 'amd64' }).digest).toBe('sha256:2');
    expect(() => pickManifest({ manifests: [m('linux', 'arm64', 'sha256:1')] }, 'r', { os: 'linux', architecture: 'amd64' })).toThrow(/no image for linux\/amd64 \(offered: linux\/arm64\)/);
  });
});

describe('entry names', () => {
  test('clean components; .. and absolute names refused; links resolved inside only', () => {
    expect(entryComponents('./a//b/./c/')).toEqual(['a', 'b', 'c']);
    expect(entryComponents('./')).toBeNull();
    expect(() => entryComponents('a/../b')).toThrow(/contains "\.\."/);
    expect(() => entryComponents('/etc/passwd')).toThrow(/absolute path/);
    expect(resolveInside('x/y', '../z/layer.tar')).toBe('x/z/layer.tar');
    expect(resolveInside('x', '../../etc/shadow')).toBeNull();
    expect(resolveInside('x', '/etc/shadow')).toBeNull();
  });
});

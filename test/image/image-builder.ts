import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/**
 * Test images made by hand: a tar writer (ustar, what the layer and archive formats need), and
 * writers for an OCI layout, an oci-archive and a docker-archive. The root filesystem is Debian's
 * static busybox plus a shell script serving Knative's contract with `nc -ll`.
 */

export interface TarItem {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  body?: Buffer | string;
  linkname?: string;
}

const FLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', dir: '5', fifo: '6' } as const;

function octal(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, '0') + '\0';
}

export function tarHeader(item: TarItem, size: number): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(item.name) > 100) throw new Error(`test tar: name too long: ${item.name}`);
  h.write(item.name, 0, 100, 'utf8');
  const type = item.type ?? 'file';
  h.write(octal(item.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(item.uid ?? 0, 8), 108, 'ascii');
  h.write(octal(item.gid ?? 0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1_700_000_000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(FLAG[type], 156, 'ascii');
  if (item.linkname) h.write(item.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

export function makeTar(items: TarItem[]): Buffer {
  const parts: Buffer[] = [];
  for (const item of items) {
    const body = item.body === undefined ? Buffer.alloc(0) : Buffer.from(item.body);
    const type = item.type ?? 'file';
    const size = type === 'file' ? body.length : 0;
    parts.push(tarHeader(item, size));
    if (size > 0) parts.push(body, Buffer.alloc((512 - (size % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function sha(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface ImageSpec {
  layers: Buffer[];
  config?: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string; ExposedPorts?: Record<string, object> };
  gzip?: boolean;
}

export function imageConfig(spec: ImageSpec): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: spec.config ?? {},
      rootfs: { type: 'layers', diff_ids: spec.layers.map((l) => sha(l)) },
    }),
  );
}

export interface Blobs {
  config: Buffer;
  layers: { bytes: Buffer; mediaType: string }[];
  manifest: Buffer;
}

/** The image as OCI blobs: config, (gzip'd) layers, manifest. */
export function ociBlobs(spec: ImageSpec): Blobs {
  const config = imageConfig(spec);
  const layers = spec.layers.map((l) =>
    spec.gzip === false ? { bytes: l, mediaType: 'application/vnd.oci.image.layer.v1.tar' } : { bytes: gzipSync(l), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha(l.bytes), size: l.bytes.length })),
    }),
  );
  return { config, layers, manifest };
}

/** An OCI image layout folder (the image tagged `tag`). */
export function writeOciLayout(dir: string, spec: ImageSpec, tag = 'latest'): Blobs {
  const blobs = ociBlobs(spec);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of [blobs.config, blobs.manifest, ...blobs.layers.map((l) => l.bytes)]) writeFileSync(join(dir, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(blobs.manifest), size: blobs.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return blobs;
}

/** An oci-archive: the layout's files in a tar. */
export function writeOciArchive(file: string, spec: ImageSpec, tag = 'latest'): void {
  const blobs = ociBlobs(spec);
  const items: TarItem[] = [
    { name: 'oci-layout', body: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    {
      name: 'index.json',
      body: JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(blobs.manifest), size: blobs.manifest.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
      }),
    },
    { name: 'blobs/', type: 'dir' },
    { name: 'blobs/sha256/', type: 'dir' },
    ...[blobs.config, blobs.manifest, ...blobs.layers.map((l) => l.bytes)].map((b) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, body: b })),
  ];
  writeFileSync(file, makeTar(items));
}

/** What `docker save` writes (layers uncompressed, as docker before 25 did; `gzipLayers` as some tools do). */
export function writeDockerArchive(file: string, spec: ImageSpec, repoTag = 'hello:latest', gzipLayers = false): string {
  const config = imageConfig(spec);
  const configName = `${sha(config).slice(7)}.json`;
  const layerNames = spec.layers.map((l) => `${sha(l).slice(7, 71)}/layer.tar`);
  const items: TarItem[] = [
    { name: 'manifest.json', body: JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: layerNames }]) },
    { name: configName, body: config },
  ];
  spec.layers.forEach((l, i) => {
    items.push({ name: `${layerNames[i]!.split('/')[0]}/`, type: 'dir' }, { name: layerNames[i]!, body: gzipLayers ? gzipSync(l) : l });
  });
  writeFileSync(file, makeTar(items));
  return sha(config);
}

/**
 * The server the test images run: busybox's `nc -ll` starts this script for each connection. It
 * answers any request with JSON: who it runs as, where, a few variables, and which of the paths
 * listed in the request body it can see or read (the walls the sandbox must keep).
 */
export const HANDLER_SH = `#!/bin/sh
len=0
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\\r')
  [ -z "$line" ] && break
  case "$line" in
    [Cc]ontent-[Ll]ength:*) len=$(printf '%s' "\${line#*:}" | tr -d ' ');;
  esac
done
body=$(head -c "$len")
seen=""
for p in $body; do
  if [ -e "$p" ] || cat "$p" >/dev/null 2>&1; then seen="$seen\\"$p\\","; fi
done
secret=$(cat /app/secret 2>/dev/null)
resp="{\\"uid\\":\\"$(id -u)\\",\\"cwd\\":\\"$(pwd)\\",\\"port\\":\\"$PORT\\",\\"greeting\\":\\"$GREETING\\",\\"home\\":\\"$HOME\\",\\"kservice\\":\\"$K_SERVICE\\",\\"secret\\":\\"$secret\\",\\"seen\\":[\${seen%,}]}"
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' "\${#resp}" "$resp"
`;

const APPLETS = ['sh', 'nc', 'head', 'cat', 'id', 'tr', 'sleep', 'echo', 'ls', 'pwd', 'printf'];

/** The base layer: busybox (static, Debian's busybox-static) with its applets, /etc/passwd, the handler. */
export function busyboxLayer(busybox = '/bin/busybox'): Buffer {
  return makeTar([
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', body: readFileSync(busybox), mode: 0o755 },
    ...APPLETS.map((a): TarItem => ({ name: `bin/${a}`, type: 'hardlink', linkname: 'bin/busybox' })),
    { name: 'usr/', type: 'dir' },
    { name: 'usr/bin', type: 'symlink', linkname: '../bin' },
    { name: 'etc/', type: 'dir' },
    { name: 'etc/passwd', body: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { name: 'home/', type: 'dir' },
    { name: 'home/app/', type: 'dir', uid: 1000, gid: 1000 },
    { name: 'app/', type: 'dir' },
    { name: 'app/handler.sh', body: HANDLER_SH, mode: 0o755 },
    // readable only by its owner, the image's user: the function's uid must own it in the root
    { name: 'app/secret', body: 'owned-by-app', mode: 0o600, uid: 1000, gid: 1000 },
  ]);
}

/** The busybox server image's config: Knative's contract on the first exposed port. */
export function serverConfig(extra: ImageSpec['config'] = {}): NonNullable<ImageSpec['config']> {
  return {
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: ['echo "serving on $PORT"; exec nc -ll -p "$PORT" -e /app/handler.sh'],
    Env: ['GREETING=from-image', 'PATH=/bin'],
    WorkingDir: '/app',
    User: 'app',
    ExposedPorts: { '9090/tcp': {} },
    ...extra,
  };
}

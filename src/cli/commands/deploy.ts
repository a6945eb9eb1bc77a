import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { UsageError, parseCommandArgs } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';
import { COLD_START_MODES, HTTP_EVENT_FORMATS } from '../../manifest/schema.js';
import { ImageStore, type PullEvent } from '../../image/store.js';
import { imageSettings } from '../../image/image-config.js';
import { credentialsFrom } from '../../image/registry-auth.js';
import { ImageError } from '../../image/image-source.js';
import { unpackLimits, type UnpackLimits } from '../../image/unpack-limits.js';

const usage = `
usage: hivelab deploy DIR [DIR ...] [--replace] [options]
       hivelab deploy --image REF [--name N] [--manifest SETTINGS.json] [options]

Deploys function folders. A folder's function.json holds its settings; the options below set
(or override) them, so a folder written for AWS Lambda deploys as it is, without a function.json:

  hivelab deploy ./my-lambda --runtime nodejs20.x --handler index.handler --memory 128 --timeout 3

Redeploying changed code starts a new version: new invocations go to new instances, old instances
finish and stop. A function of the same name deployed from another folder is not replaced unless
--replace is given.

Options:
  --name NAME         function name (default: the folder's name, lower-cased; with no function.json)
  --runtime R         node | python, or a Lambda runtime name (nodejs18.x, nodejs20.x, python3.12, …)
  --handler M.F       module.function, e.g. index.handler, lambda_function.lambda_handler
  --memory MB         memory limit (Lambda's MemorySize)
  --timeout S         timeout in seconds (Lambda's Timeout)
  --concurrency N     requests one instance serves at once
  --env K=V           environment variable (repeatable)
  --event FORMAT      raw | apigateway-v1 | apigateway-v2: what an HTTP invocation hands the handler
  --cold-start MODE   boot | snapshot | lazy | reap | criu-lazy
  --replace           replace a function of the same name deployed from another folder
  --state DIR         Hivelab state folder (default: $HIVELAB_STATE or ./.hivelab)

Images (docs/IMAGES.md). REF is an OCI layout folder (oci:DIR[:TAG]), an oci-archive or a
docker-archive tarball (oci-archive:FILE, docker-archive:FILE, or just the path), or a registry
image [http://]HOST[:PORT]/NAME[:TAG|@sha256:…]. The image is pulled into the state folder's image
store and runs under Knative's contract (PORT, HTTP/1.1 or h2c, ready when it listens):

  hivelab deploy --image localhost:5000/hello:1 --insecure --memory 128 --cold-start snapshot

  --image REF                 the image to deploy as a function
  --manifest FILE             function.json-style settings for the image (memoryMB, scaling, …)
  --port N                    the port the program listens on (default: the image's first
                              exposed tcp port, else 8080)
  --protocol http|grpc        what the program speaks (default http)
  --insecure                  plain HTTP to the registry
  --max-image-mb N            refuse an image whose layers unpack to more than N MB together
                              (default 8192); a bomb stops at the limit, nothing is kept
  --max-image-entries N       likewise for tar entries (default 1000000)
  --registry-user U           registry credentials (or HIVELAB_REGISTRY_AUTH=user:password;
  --registry-password P        never printed)
`;

/** The manifest fields the flags set; undefined when no flag is given (the folder's function.json alone). */
export function settingsFromFlags(v: Record<string, unknown>, dir: string): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const num = (flag: string, value: unknown, scale = 1): number => {
    const n = Number(value);
    if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${String(value)}"`);
    return Math.round(n * scale);
  };
  if (v.runtime !== undefined) out.runtime = v.runtime;
  if (v.handler !== undefined) out.handler = v.handler;
  if (v.memory !== undefined) out.memoryMB = num('memory', v.memory);
  if (v.timeout !== undefined) out.timeoutMs = num('timeout', v.timeout, 1000);
  if (v.concurrency !== undefined) out.concurrency = num('concurrency', v.concurrency);
  if (v.event !== undefined) {
    if (!(HTTP_EVENT_FORMATS as readonly string[]).includes(v.event as string)) throw new UsageError(`--event must be one of ${HTTP_EVENT_FORMATS.join(', ')}, got "${String(v.event)}"`);
    out.event = v.event;
  }
  const env = v.env as string[] | undefined;
  if (env?.length) {
    const e: Record<string, string> = {};
    for (const kv of env) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new UsageError(`--env takes NAME=VALUE, got "${kv}"`);
      e[kv.slice(0, i)] = kv.slice(i + 1);
    }
    out.env = e;
  }
  if (v['cold-start'] !== undefined) {
    if (!(COLD_START_MODES as readonly string[]).includes(v['cold-start'] as string)) throw new UsageError(`--cold-start must be one of ${COLD_START_MODES.join(', ')}, got "${String(v['cold-start'])}"`);
    out.coldStart = v['cold-start'];
  }
  if (v.name !== undefined) out.name = v.name;
  if (Object.keys(out).length === 0) return undefined;
  // A Lambda folder has no name of its own: its folder's name, made deployable.
  if (!existsSync(join(dir, 'function.json'))) out.name ??= basename(dir).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || undefined;
  return out;
}

const command: Command = {
  summary: 'deploy function folders (function.json, or Lambda-style flags)',
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs({
      args: argv,
      allowPositionals: true,
      options: {
        state: { type: 'string' },
        name: { type: 'string' },
        runtime: { type: 'string' },
        handler: { type: 'string' },
        memory: { type: 'string' },
        timeout: { type: 'string' },
        concurrency: { type: 'string' },
        env: { type: 'string', multiple: true },
        event: { type: 'string' },
        'cold-start': { type: 'string' },
        replace: { type: 'boolean', default: false },
        image: { type: 'string' },
        manifest: { type: 'string' },
        port: { type: 'string' },
        protocol: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        'max-image-mb': { type: 'string' },
        'max-image-entries': { type: 'string' },
        'registry-user': { type: 'string' },
        'registry-password': { type: 'string' },
      },
    });
    if (values.image !== undefined) {
      if (positionals.length > 0) throw new UsageError('give either --image REF or function folders, not both');
      return deployImage(values.image, values);
    }
    if (positionals.length === 0) throw new UsageError('name at least one function folder');
    if (values.name !== undefined && positionals.length > 1) throw new UsageError('--name applies to one folder; deploy the folders one by one');
    const perDir = positionals.map((dir) => ({ dir, settings: settingsFromFlags(values, resolve(dir)) }));
    const c = await connect(values.state);
    let failed = 0;
    for (const { dir, settings } of perDir) {
      try {
        const r = await callJson<{ name: string; version: string; changed: boolean }>(c, 'POST', '/v1/functions', { path: resolve(dir), replace: values.replace, ...(settings ? { manifest: settings } : {}) });
        console.log(`${r.changed ? 'deployed' : 'unchanged'} ${r.name} (version ${r.version})`);
      } catch (err) {
        console.error(`${dir}: ${(err as Error).message}`);
        failed++;
      }
    }
    return failed ? 1 : 0;
  },
};
export default command;

/** A function name from an image reference: its repository's last part (`localhost:5000/team/hello:1` → `hello`). */
export function nameFromRef(ref: string): string {
  const path = ref.replace(/^[a-z-]+:(?!\d)/, '').replace(/@sha256:[a-f0-9]+$/, '');
  const last = path.split('/').filter(Boolean).pop() ?? 'image';
  const base = last.replace(/\.(tar|tar\.gz|tgz)$/, '').replace(/:[^:]*$/, '');
  return base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'image';
}

function mb(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Progress lines on stderr (stdout keeps the one result line). */
function progressPrinter(): (e: PullEvent) => void {
  let layers = 0;
  return (e) => {
    if (e.type === 'resolved') {
      layers = e.layers;
      process.stderr.write(`image ${e.ref}: ${e.id.slice(0, 19)}, ${e.layers} layer(s)${e.totalBytes !== undefined ? `, ${mb(e.totalBytes)}` : ''}\n`);
    } else if (e.type === 'layer') {
      const tag = `layer ${e.index + 1}/${layers} ${e.diffId.slice(7, 19)}`;
      if (e.state === 'cached') process.stderr.write(`${tag}: cached\n`);
      else if (e.state === 'pulling') process.stderr.write(`${tag}: pulling${e.size !== undefined ? ` ${mb(e.size)}` : ''}\n`);
      else process.stderr.write(`${tag}: unpacked ${mb(e.bytes ?? 0)}, ${e.stats?.entries ?? 0} entries${e.stats?.skipped ? ` (${e.stats.skipped} device nodes/FIFOs skipped)` : ''}\n`);
    } else {
      process.stderr.write(`layer ${e.index + 1}/${layers}: ${mb(e.bytes)}${e.size !== undefined ? ` of ${mb(e.size)}` : ''}\n`);
    }
  };
}

/** The unpack limits from --max-image-mb / --max-image-entries (each a positive number). */
export function limitsFromFlags(v: Record<string, unknown>): UnpackLimits {
  const num = (flag: string): number | undefined => {
    const value = v[flag];
    if (value === undefined) return undefined;
    const n = Number(value);
    if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number, got "${String(value)}"`);
    return n;
  };
  const maxMB = num('max-image-mb');
  const maxEntries = num('max-image-entries');
  return unpackLimits({ ...(maxMB !== undefined ? { maxMB } : {}), ...(maxEntries !== undefined ? { maxEntries } : {}) });
}

async function deployImage(ref: string, values: Record<string, unknown>): Promise<number> {
  const limits = limitsFromFlags(values);
  const c = await connect(values.state as string | undefined);
  let credentials;
  try {
    credentials = credentialsFrom(values['registry-user'] as string | undefined, values['registry-password'] as string | undefined);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let fileSettings: Record<string, unknown> = {};
  if (values.manifest !== undefined) {
    const text = await readFile(resolve(values.manifest as string), 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new UsageError(`--manifest ${String(values.manifest)}: ${err.code ?? err.message}`);
    });
    try {
      fileSettings = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--manifest ${String(values.manifest)} is not valid JSON`);
    }
    if (!fileSettings || typeof fileSettings !== 'object' || Array.isArray(fileSettings)) throw new UsageError(`--manifest ${String(values.manifest)} must hold a JSON object`);
  }
  const store = new ImageStore(join(c.stateDir, 'images'));
  let fromImage;
  try {
    const rec = await store.pull(ref, { ...(credentials ? { credentials } : {}), insecure: values.insecure === true, limits }, progressPrinter());
    fromImage = await imageSettings(store, rec);
  } catch (err) {
    if (err instanceof ImageError) {
      console.error(`cannot deploy image ${ref}: ${err.message}`);
      return err.status === 401 ? 3 : err.status === 404 ? 4 : err.status === 413 ? 5 : 1;
    }
    throw err;
  }
  const flags = settingsFromFlags({ ...values, name: undefined }, '/nonexistent') ?? {};
  delete flags.name;
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) throw new UsageError(`--port must be 1..65535, got "${String(values.port)}"`);
  const name = (values.name as string | undefined) ?? (fileSettings.name as string | undefined) ?? (fromImage.settings.name as string | undefined) ?? nameFromRef(ref);
  const { settings: labelled, ...fromConfig } = fromImage;
  const settings: Record<string, unknown> = {
    runtime: 'node',
    ...labelled,
    ...fromConfig,
    ...fileSettings,
    ...flags,
    ...(port !== undefined ? { port } : {}),
    ...(values.protocol !== undefined ? { protocol: values.protocol } : {}),
    name,
    // the image decides what runs; settings choose how it is run
    command: fileSettings.command ?? fromImage.command,
    image: fromImage.image,
  };
  // an image function's folder (mounted at /var/task) holds only its function.json; one per name,
  // so two images deployed under one name conflict as two folders would
  const dir = join(c.stateDir, 'images', 'functions', name);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  try {
    const r = await callJson<{ name: string; version: string; changed: boolean }>(c, 'POST', '/v1/functions', { path: dir, replace: values.replace, manifest: settings });
    console.log(`${r.changed ? 'deployed' : 'unchanged'} ${r.name} (version ${r.version}, image ${fromImage.image.id.slice(0, 19)})`);
    return 0;
  } catch (err) {
    console.error(`image ${ref}: ${(err as Error).message}`);
    return 1;
  }
}

import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { UsageError, parseCommandArgs } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';
import { HTTP_EVENT_FORMATS } from '../../manifest/schema.js';

const usage = `
usage: hivelab deploy DIR [DIR ...] [--replace] [options]

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
  --replace           replace a function of the same name deployed from another folder
  --state DIR         Hivelab state folder (default: $HIVELAB_STATE or ./.hivelab)
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
        replace: { type: 'boolean', default: false },
      },
    });
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

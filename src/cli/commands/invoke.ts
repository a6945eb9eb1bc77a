import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { connect, call } from '../../gateway/client.js';

const usage = `
usage: hivelab invoke NAME [--data JSON | --data-file FILE] [--content-type TYPE] [--json] [--state DIR]

Invokes a function synchronously and prints its response. With --json prints
{status, body, latencyMs, cold, instanceId, invocationId}. Exits 1 when the invocation failed.
`;

const command: Command = {
  summary: 'invoke a function',
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        data: { type: 'string' },
        'data-file': { type: 'string' },
        'content-type': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
    const name = positionals[0];
    if (!name || positionals.length > 1) throw new UsageError('name exactly one function');
    if (values.data !== undefined && values['data-file'] !== undefined) throw new UsageError('give --data or --data-file, not both');
    let body: Buffer = Buffer.from(values.data ?? '{}');
    if (values['data-file'] !== undefined) body = await readFile(values['data-file']);
    const contentType = values['content-type'] ?? 'application/json';
    if (contentType === 'application/json' && body.length > 0) {
      try {
        JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new UsageError(`the data is not valid JSON (${(err as Error).message}); use --content-type for other payloads`);
      }
    }
    const c = await connect(values.state);
    const t0 = performance.now();
    const res = await call(c, 'POST', `/invoke/${encodeURIComponent(name)}`, { body, contentType, role: 'invoke' });
    const latencyMs = performance.now() - t0;
    const type = res.headers['content-type'] ?? '';
    const text = type.startsWith('application/json') || type.startsWith('text/') ? res.body.toString('utf8') : undefined;
    if (values.json) {
      let parsed: unknown = text ?? res.body.toString('base64');
      if (type.startsWith('application/json')) parsed = JSON.parse(text!);
      console.log(
        JSON.stringify({
          status: res.status,
          body: parsed,
          latencyMs: Math.round(latencyMs * 1000) / 1000,
          cold: res.headers['x-hivelab-cold'] === '1',
          instanceId: res.headers['x-hivelab-instance-id'] ?? null,
          invocationId: res.headers['x-hivelab-invocation-id'] ?? null,
        }),
      );
    } else if (text !== undefined) {
      (res.status < 400 ? console.log : console.error)(text);
    } else {
      process.stdout.write(res.body);
    }
    return res.status < 400 ? 0 : 1;
  },
};
export default command;

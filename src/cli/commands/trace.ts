import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';
import type { TraceRecord, TraceSummary } from '../../observability/span-record.js';
import { renderWaterfall } from '../../observability/waterfall-text.js';

const usage = `
usage: hivelab trace INVOCATION_ID [--json] [--width N] [--state DIR]
       hivelab trace --function NAME [--last N] [--json] [--state DIR]
       hivelab trace --last N [--state DIR]
       hivelab trace synth --functions N --days D --out DIR [--seed S]
                                      (a synthetic Azure Functions 2019 trace; run it without
                                       options for its full usage)

Prints where an invocation's time went: a waterfall of its spans (gateway, activator queueing,
cold-start phases, queue-proxy wait, function processing, XDT transfers), fetched from the running
platform (GET /v1/traces/ID). An id may be an invocation id (x-hivelab-invocation-id) or a trace
id; a chain of functions shows as one trace. With --function / --last, lists recent traces.
Only sampled invocations have traces (hivelab up --trace-sample-rate).
`;

function ms(v: number): string {
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(2)}ms`;
}

export function formatTraceList(traces: TraceSummary[]): string {
  if (traces.length === 0) return 'no traces\n';
  const rows = traces.map((t) => [
    new Date(t.startMs).toISOString().replace('T', ' ').slice(0, 23),
    t.invocationIds[0] ?? '-',
    t.functions.join('>') || '-',
    ms(t.durationMs),
    String(t.spanCount),
    [t.cold ? 'cold' : '', t.error ? 'error' : ''].filter(Boolean).join(','),
    t.traceId,
  ]);
  const head = ['start (UTC)', 'invocation', 'functions', 'duration', 'spans', 'flags', 'trace'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function runSynth(argv: string[]): Promise<number> {
  // Another part of the project owns trace synthesis; load it only when asked for.
  const spec = '../../azure-trace/synth-command.js';
  let mod: { runTraceSynth?: (argv: string[]) => Promise<number> };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      console.error('hivelab trace synth: not available in this build (src/azure-trace/synth-command.ts is missing)');
      return 1;
    }
    throw err;
  }
  if (typeof mod.runTraceSynth !== 'function') {
    console.error('hivelab trace synth: not available in this build (runTraceSynth is not exported)');
    return 1;
  }
  return mod.runTraceSynth(argv);
}

const command: Command = {
  summary: "show an invocation's trace as a waterfall, or list recent traces",
  usage,
  async run(argv) {
    if (argv[0] === 'synth') return runSynth(argv.slice(1));
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        state: { type: 'string' },
        function: { type: 'string' },
        last: { type: 'string' },
        json: { type: 'boolean', default: false },
        width: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
    if (values.help) {
      process.stdout.write(usage.trimStart());
      return 0;
    }
    if (positionals.length > 1) throw new UsageError('give one invocation id');
    const id = positionals[0];
    const listing = values.function !== undefined || values.last !== undefined;
    if (id && listing) throw new UsageError('give an invocation id, or --function/--last to list, not both');
    if (!id && !listing) throw new UsageError('give an invocation id, or --function NAME / --last N');
    const c = await connect(values.state);
    if (id) {
      const width = values.width === undefined ? Math.max(60, process.stdout.columns ?? 100) : Number(values.width);
      if (!Number.isInteger(width) || width < 40) throw new UsageError('--width must be an integer of at least 40');
      const t = await callJson<TraceRecord>(c, 'GET', `/v1/traces/${encodeURIComponent(id)}`);
      process.stdout.write(values.json ? JSON.stringify(t, null, 2) + '\n' : renderWaterfall(t, width));
      return 0;
    }
    const last = values.last === undefined ? 20 : Number(values.last);
    if (!Number.isInteger(last) || last < 1) throw new UsageError('--last must be a positive integer');
    const q = new URLSearchParams({ last: String(last) });
    if (values.function) q.set('function', values.function);
    const { traces } = await callJson<{ traces: TraceSummary[] }>(c, 'GET', `/v1/traces?${q}`);
    process.stdout.write(values.json ? JSON.stringify(traces, null, 2) + '\n' : formatTraceList(traces));
    return 0;
  },
};
export default command;

import { UsageError, parseCommandArgs, type Command } from '../command.js';
import { selectFunctions } from '../../suite/catalogue.js';
import { checkSuite, type CheckResult } from '../../suite/check.js';
import { LocalInvoker } from '../../suite/local-invoker.js';
import { PlatformInvoker, readEndpoint } from '../../suite/platform-invoker.js';
import type { SuiteFunction } from '../../suite/types.js';

const usage = `Usage: hivelab suite <deploy|check|list> [options]

  deploy          deploy every suite function (functions/, and vSwarm's gRPC functions from
                  examples/vswarm) to the running platform
  check           invoke each function cold, then warm, with its sample input; validate the
                  outputs; print status, cold ms, warm ms and the instance's resident memory.
                  A gRPC function gets one unary call through the gateway (h2c), its reply
                  decoded with the method's proto; a status other than OK fails it
  list            print the suite's functions, runtimes and protocols

Options:
  --state <dir>   platform state folder (default: $HIVELAB_STATE or ./.hivelab)
  --only <names>  comma-separated function names (default: all)
  --json          machine-readable output: {functions:[{name, runtime, protocol, ok, coldMs, warmMs, rssMB, error?}]}
  --local         check: run handlers directly in this machine's runtimes, no platform (no sandbox);
                  without --only it leaves out the gRPC functions (servers need the platform)
  -h, --help      show this help

Inputs and models must exist first: scripts/setup-suite.sh (run by set-up).
"check" redeploys each function (delete + deploy) so its first invocation is a cold start.`;

const command: Command = {
  summary: 'deploy and check the function suite (FunctionBench / vSwarm functions)',
  usage,
  async run(argv: string[]): Promise<number> {
    const parsed = parseCommandArgs({
      args: argv,
      allowPositionals: true,
      options: {
        state: { type: 'string' },
        only: { type: 'string' },
        json: { type: 'boolean', default: false },
        local: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const { values, positionals } = parsed;
    if (values.help) {
      console.log(usage);
      return 0;
    }
    const [action, ...rest] = positionals;
    if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
    if (action !== 'deploy' && action !== 'check' && action !== 'list') throw new UsageError(action ? `unknown action "${action}"` : 'missing action');
    let fns;
    const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
    try {
      fns = selectFunctions(only);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (action === 'list') {
      if (values.json) console.log(JSON.stringify({ functions: fns.map((f) => ({ name: f.name, runtime: f.runtime, protocol: protocolOf(f), dir: f.dir })) }, null, 2));
      else for (const f of fns) console.log(`${f.name.padEnd(NAME_WIDTH)} ${f.runtime.padEnd(7)} ${protocolOf(f).padEnd(5)} ${f.dir}`);
      return 0;
    }
    // the local invoker calls handlers in-process: the gRPC servers need the platform
    if (action === 'check' && values.local && !only?.length) fns = fns.filter((f) => !f.grpc);
    const stateDir = values.state ?? process.env.HIVELAB_STATE ?? '.hivelab';

    if (action === 'deploy') {
      if (values.local) throw new UsageError('--local applies to "check" only');
      const invoker = new PlatformInvoker(await readEndpoint(stateDir));
      const rows: Array<{ name: string; ok: boolean; error?: string }> = [];
      for (const fn of fns) {
        try {
          await invoker.deploy(fn);
          rows.push({ name: fn.name, ok: true });
          if (!values.json) console.log(`deployed ${fn.name}`);
        } catch (err) {
          rows.push({ name: fn.name, ok: false, error: (err as Error).message });
          if (!values.json) console.error(`FAILED   ${fn.name}: ${(err as Error).message}`);
        }
      }
      if (values.json) console.log(JSON.stringify({ functions: rows }, null, 2));
      return rows.every((r) => r.ok) ? 0 : 1;
    }

    const invoker = values.local ? new LocalInvoker() : new PlatformInvoker(await readEndpoint(stateDir));
    if (!values.json) console.log(`${'function'.padEnd(NAME_WIDTH)} ${'runtime'.padEnd(7)} ${'status'.padEnd(6)} ${'cold ms'.padStart(9)} ${'warm ms'.padStart(9)} ${'rss MB'.padStart(8)}`);
    let results: CheckResult[];
    try {
      results = await checkSuite(fns, invoker, (r) => {
        if (!values.json) console.log(formatRow(r));
      });
    } finally {
      await invoker.close();
    }
    if (values.json) console.log(JSON.stringify({ functions: results }, null, 2));
    else console.log(`${results.filter((r) => r.ok).length}/${results.length} functions passed`);
    return results.every((r) => r.ok) ? 0 : 1;
  },
};

/** Wide enough for the longest name (`vswarm-fibonacci-python`). */
const NAME_WIDTH = 24;

function protocolOf(f: SuiteFunction): 'http' | 'grpc' {
  return f.grpc ? 'grpc' : 'http';
}

function formatRow(r: CheckResult): string {
  const n = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(1)).padStart(9);
  const line = `${r.name.padEnd(NAME_WIDTH)} ${r.runtime.padEnd(7)} ${(r.ok ? 'ok' : 'FAIL').padEnd(6)} ${n(r.coldMs)} ${n(r.warmMs)} ${(r.rssMB === undefined ? '-' : r.rssMB.toFixed(1)).padStart(8)}`;
  const warn = r.coldObserved === false ? '  (platform reported the first invocation warm)' : '';
  return r.error ? `${line}\n    ${r.error}` : line + warn;
}

export default command;

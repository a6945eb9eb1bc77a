import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { openSync, readdirSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { statePaths } from '../../config/state.js';
import { processExists } from '../../core/process-exists.js';
import { COLD_START_MODES, type ColdStartMode } from '../../manifest/schema.js';
import { policyNames } from '../../autoscaler/registry.js';
import { placementNames } from '../../placement/registry.js';

const usage = `
usage: hivelab up [--port 8080] [--state DIR] [--detach] [--workers N] [--max-starting N] [--cold-start MODE]
                  [--keep-alive SECONDS] [--inline-limit BYTES] [--examples]
                  [--policy NAME] [--trace-sample RATE] [--zipkin URL] [--otlp URL]
                  [--busy-poll US]

Starts the platform (gateway, activator, autoscaler, workers) and prints its URL.
  --port N            gateway port on 127.0.0.1 (default 8080; 0 picks a free one)
  --state DIR         state folder: tokens, deployments, logs, snapshots (default ./.hivelab)
  --detach            start in the background and return once the platform answers
  --workers N         worker processes (default 1)
  --worker-memory MB  memory each worker may commit to instances (default 16384)
  --max-starting N    instance starts each worker runs at once; the rest wait their turn, the wait
                      counting against their start deadline (default: the CPUs it may use)
  --placement NAME    placement of new instances: least-loaded | snapshot-affinity (default least-loaded)
  --cold-start MODE   default cold-start mode: ${COLD_START_MODES.join(' | ')} (default boot)
  --policy NAME       scaling policy for functions whose manifest names none: ${policyNames().join(' | ')} (default kpa)
  --keep-alive S      idle seconds before fixed-keepalive stops an instance (default 600)
  --inline-limit B    largest request body in bytes (default 6291456)
  --examples          deploy the bundled example functions
  --trace-sample R    fraction of invocations traced, 0..1 (default 1; 0 turns tracing off)
  --zipkin URL        also export traces to a Zipkin v2 endpoint (e.g. http://127.0.0.1:9411/api/v2/spans)
  --otlp URL          also export traces to an OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318/v1/traces)
  --busy-poll US      the gateway polls instead of sleeping for US µs after each invocation event,
                      so answers arriving meanwhile wake no one (default 100; 0 turns it off)

The dashboard is at the printed URL (open it once with ?token=<admin token>).
`;

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function int(name: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${v}"`);
  return n;
}

async function runningPid(platformFile: string): Promise<number | undefined> {
  try {
    const { pid } = JSON.parse(await readFile(platformFile, 'utf8')) as { pid: number };
    return processExists(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForReady(platformFile: string, child: number, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      const { url, pid } = JSON.parse(await readFile(platformFile, 'utf8')) as { url: string; pid: number };
      if (pid === child) {
        const res = await fetch(`${url}/v1/health`);
        if (res.ok) return url;
      }
    } catch {
      // not yet
    }
    if (!processExists(child)) throw new Error('the platform exited during start-up; see its log');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the platform did not become ready within ${timeoutMs / 1000} s`);
}

const command: Command = {
  summary: 'start the platform',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        state: { type: 'string' },
        detach: { type: 'boolean', default: false },
        workers: { type: 'string' },
        'max-starting': { type: 'string' },
        'cold-start': { type: 'string' },
        'keep-alive': { type: 'string' },
        'inline-limit': { type: 'string' },
        examples: { type: 'boolean', default: false },
        'trace-sample': { type: 'string' },
        policy: { type: 'string' },
        'worker-memory': { type: 'string' },
        placement: { type: 'string' },
        zipkin: { type: 'string' },
        otlp: { type: 'string' },
        'busy-poll': { type: 'string' },
      },
      allowPositionals: false,
    });
    const coldStart = values['cold-start'];
    if (coldStart !== undefined && !(COLD_START_MODES as readonly string[]).includes(coldStart)) {
      throw new UsageError(`--cold-start must be one of ${COLD_START_MODES.join(', ')}, got "${coldStart}"`);
    }
    const port = int('port', values.port, 0);
    const workers = int('workers', values.workers, 1);
    const workerMemory = int('worker-memory', values['worker-memory'], 64);
    const maxStarting = int('max-starting', values['max-starting'], 1);
    if (values.placement !== undefined && !placementNames().includes(values.placement)) {
      throw new UsageError(`--placement must be one of ${placementNames().join(', ')}, got "${values.placement}"`);
    }
    const keepAlive = int('keep-alive', values['keep-alive'], 0);
    const inlineLimit = int('inline-limit', values['inline-limit'], 1);
    const busyPoll = int('busy-poll', values['busy-poll'], 0);
    const paths = statePaths(values.state);
    if (values.policy !== undefined && !policyNames().includes(values.policy)) {
      throw new UsageError(`--policy must be one of ${policyNames().join(', ')}, got "${values.policy}"`);
    }
    const sample = values['trace-sample'] === undefined ? undefined : Number(values['trace-sample']);
    if (sample !== undefined && !(sample >= 0 && sample <= 1)) throw new UsageError(`--trace-sample must be between 0 and 1, got "${values['trace-sample']}"`);

    const other = await runningPid(paths.platform);
    if (other) {
      console.error(`hivelab up: a platform (pid ${other}) already runs with state ${paths.root}; stop it with \`hivelab down\``);
      return 1;
    }

    if (values.detach) {
      const args = argv.filter((a) => a !== '--detach');
      const logFile = join(paths.root, 'platform.log');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(paths.root, { recursive: true });
      const out = openSync(logFile, 'a');
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'hivelab.js'), 'up', ...args], {
        detached: true,
        stdio: ['ignore', out, out],
        env: process.env,
      });
      child.unref();
      const url = await waitForReady(paths.platform, child.pid!, 120_000);
      console.log(`Hivelab is up at ${url} (pid ${child.pid}, log ${logFile})`);
      console.log(`Tokens: ${paths.tokens}`);
      return 0;
    }

    const examplesDir = join(ROOT, 'examples');
    const deploy =
      values.examples && existsSync(examplesDir)
        ? readdirSync(examplesDir, { withFileTypes: true })
            .filter((e) => e.isDirectory() && existsSync(join(examplesDir, e.name, 'function.json')))
            .map((e) => join(examplesDir, e.name))
        : [];
    const { startPlatform } = await import('../../platform.js');
    const platform = await startPlatform({
      stateDir: paths.root,
      port,
      workers,
      keepAliveMs: keepAlive === undefined ? undefined : keepAlive * 1000,
      inlineLimitBytes: inlineLimit,
      coldStart: coldStart as ColdStartMode | undefined,
      deploy,
      traceSampleRate: sample,
      policy: values.policy,
      placement: values.placement,
      workerMemoryBudgetMB: workerMemory,
      maxStarting,
      zipkinUrl: values.zipkin,
      otlpUrl: values.otlp,
      busyPollUs: busyPoll,
    });
    console.log(`Hivelab is up at ${platform.url} (and on the Unix socket ${platform.socket})`);
    console.log(`  state:  ${paths.root}   tokens: ${paths.tokens}`);
    console.log(`  dashboard: ${platform.url}/  (sign in with the admin token from tokens.json)`);
    console.log(`  try:    npx hivelab ls   |   npx hivelab invoke hello-node --data '{"name":"you"}'`);
    console.log(`  stop:   Ctrl-C or npx hivelab down`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        console.log('[hivelab] shutting down…');
        platform.stop().then(resolve, resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
export default command;

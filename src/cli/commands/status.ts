import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { connect, callJson } from '../../gateway/client.js';
import type { PlatformStatus } from '../../control/status.js';

const usage = `
usage: hivelab status [--json] [--state DIR]

Per function: ready and starting instances, the autoscaler's desired scale and panic mode, the
observed concurrency and the activator's queue. Per worker: its instances and memory. Per data
service (Redis, the S3 server): running or restarting after a crash, and its restarts.
`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** `reap`, or `reap→boot` where the configured mode cannot work here. */
export function modeCell(c: { configured: string; mode: string }): string {
  return c.mode === c.configured ? c.mode : `${c.configured}→${c.mode}`;
}

const command: Command = {
  summary: 'autoscaler and worker status',
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { state: { type: 'string' }, json: { type: 'boolean', default: false } } });
    const s = await callJson<PlatformStatus>(await connect(values.state), 'GET', '/v1/status');
    if (values.json) {
      console.log(JSON.stringify(s, null, 2));
      return 0;
    }
    if (!s.snapshots.available) console.log(`snapshots: unavailable here (${s.snapshots.reason}); functions with a snapshot cold-start mode boot\n`);
    console.log(
      table([
        ['FUNCTION', 'MODE', 'POLICY', 'READY', 'STARTING', 'DESIRED', 'PANIC', 'CONCURRENCY', 'QUEUE', 'REASON'],
        ...s.functions.map((f) => [f.name, modeCell(f.coldStart), f.policy, String(f.ready), String(f.starting), String(f.desired ?? '-'), f.panic ? 'yes' : 'no', f.observedConcurrency.toFixed(2), String(f.queueLength), f.reason ?? '-']),
      ]),
    );
    for (const f of s.functions) if (f.coldStart.fallback) console.log(`${f.name}: boots (${f.coldStart.fallback})`);
    console.log();
    console.log(
      table([
        ['WORKER', 'PID', 'ALIVE', 'INSTANCES', 'MEMORY COMMITTED', 'MEMORY IN USE', 'STARTS (RUNNING/LIMIT, WAITING)'],
        ...s.workers.map((w) => [
          w.id,
          String(w.pid ?? '-'),
          w.alive ? 'yes' : 'no',
          String(w.instances.length),
          `${w.memoryCommittedMB}/${w.memoryBudgetMB} MB`,
          `${w.memoryInUseMB} MB`,
          w.starts ? `${w.starts.running}/${w.starts.limit}, ${w.starts.waiting} waiting` : '-',
        ]),
      ]),
    );
    if (s.services?.length) {
      console.log();
      console.log(
        table([
          ['SERVICE', 'STATE', 'PID', 'RESTARTS', 'LAST CRASH'],
          ...s.services.map((v) => [v.name, v.state, String(v.pid ?? '-'), String(v.restarts), (v.lastCrash ?? '-').split('\n')[0]!.slice(0, 80)]),
        ]),
      );
    }
    return 0;
  },
};
export default command;

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runtime } from '../manifest/schema.js';
import { parseManifest } from '../manifest/validate.js';
import type { InstanceSpec } from './backend.js';
import { ProcessBackend, type ProcessBackendOptions } from './process-backend.js';

/**
 * Boot cold start of the process backend: spawn → ready for a hello function through the runtime
 * shim, against the bare interpreter signalling readiness in the very same sandbox (same cgroup
 * setup, same sandbox namespaces and mounts). The difference is what the shim costs.
 */

const HELLO: Record<Runtime, { file: string; source: string; handler: string }> = {
  node: { file: 'index.mjs', source: 'export async function handler() { return "hello"; }\n', handler: 'index.handler' },
  python: { file: 'main.py', source: 'def handler(event, context):\n    return "hello"\n', handler: 'main.handler' },
};

// Bare runtimes stay alive after signalling, like a shim would, so "ready" never races "exited".
const BARE: Record<Runtime, string[]> = {
  node: ['/usr/bin/node', '-e', 'require("fs").writeSync(3, "ready\\n"); setInterval(() => {}, 1 << 30);'],
  python: ['/usr/bin/python3', '-c', 'import os, time\nos.write(3, b"ready\\n")\ntime.sleep(1 << 30)'],
};

export interface Distribution {
  n: number;
  medianMs: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
}

export interface BootBenchRow {
  runtime: Runtime;
  /** Wall clock, spawn → ready. */
  shim: Distribution;
  bare: Distribution;
  /** CPU time charged to the instance's cgroup up to readiness (immune to other load on the machine). */
  shimCpu: Distribution;
  bareCpu: Distribution;
  overheadCpuMedianMs: number;
  /** shim median − bare median. */
  overheadMedianMs: number;
  overheadP99Ms: number;
}

export function distribution(samples: number[]): Distribution {
  const s = [...samples].sort((a, b) => a - b);
  // Nearest-rank percentiles: with N=20 the p99 is the maximum, which is the honest answer.
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  return { n: s.length, medianMs: rank(50), p99Ms: rank(99), minMs: s[0]!, maxMs: s[s.length - 1]! };
}

export interface BootBenchOptions {
  n?: number;
  runtimes?: Runtime[];
  backend?: ProcessBackendOptions;
  /** Called after every measured start (progress output). */
  onSample?: (runtime: Runtime, variant: 'shim' | 'bare', ms: number) => void;
}

export async function runBootBench(options: BootBenchOptions = {}): Promise<BootBenchRow[]> {
  const n = options.n ?? 20;
  const runtimes = options.runtimes ?? ['node', 'python'];
  const work = await mkdtemp(join(tmpdir(), 'hivelab-boot-bench-'));
  const shimBackend = new ProcessBackend(options.backend);
  const bareBackend = new ProcessBackend({ ...options.backend, runtimeArgv: (spec) => BARE[spec.manifest.runtime] });
  let seq = 0;
  try {
    const specs: Record<string, InstanceSpec> = {};
    for (const runtime of runtimes) {
      const dir = join(work, `fn-${runtime}`);
      await writeFile(join(await mkdirp(dir), HELLO[runtime].file), HELLO[runtime].source);
      const manifest = parseManifest({ name: `boot-${runtime}`, runtime, handler: HELLO[runtime].handler, memoryMB: 256 });
      specs[runtime] = { instanceId: '', manifest, functionDir: dir, runDir: '', logFile: join(work, `${runtime}.log`) };
    }
    const samples: Record<string, number[]> = {};
    const measure = async (runtime: Runtime, variant: 'shim' | 'bare') => {
      const instanceId = `boot-bench-${process.pid}-${++seq}`;
      const spec = { ...specs[runtime]!, instanceId, runDir: join(work, 'run', instanceId) };
      const inst = await (variant === 'shim' ? shimBackend : bareBackend).start(spec);
      await inst.stop(0);
      (samples[`${runtime}/${variant}`] ??= []).push(inst.timings.startMs);
      (samples[`${runtime}/${variant}/cpu`] ??= []).push(inst.timings.startCpuMs ?? 0);
      options.onSample?.(runtime, variant, inst.timings.startMs);
    };
    // One unmeasured warm-up of each (page cache, first cgroup creation), then interleaved samples so
    // that machine noise hits both variants alike.
    for (const runtime of runtimes) {
      for (const variant of ['shim', 'bare'] as const) {
        const instanceId = `boot-bench-${process.pid}-warm-${++seq}`;
        const inst = await (variant === 'shim' ? shimBackend : bareBackend).start({ ...specs[runtime]!, instanceId, runDir: join(work, 'run', instanceId) });
        await inst.stop(0);
      }
    }
    for (let i = 0; i < n; i++) {
      for (const runtime of runtimes) {
        await measure(runtime, 'shim');
        await measure(runtime, 'bare');
      }
    }
    return runtimes.map((runtime) => {
      const shim = distribution(samples[`${runtime}/shim`]!);
      const bare = distribution(samples[`${runtime}/bare`]!);
      const shimCpu = distribution(samples[`${runtime}/shim/cpu`]!);
      const bareCpu = distribution(samples[`${runtime}/bare/cpu`]!);
      return {
        runtime,
        shim,
        bare,
        shimCpu,
        bareCpu,
        overheadMedianMs: shim.medianMs - bare.medianMs,
        overheadP99Ms: shim.p99Ms - bare.p99Ms,
        overheadCpuMedianMs: shimCpu.medianMs - bareCpu.medianMs,
      };
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function mkdirp(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return dir;
}

export function formatBootBench(rows: BootBenchRow[]): string {
  const f = (x: number) => x.toFixed(1).padStart(7);
  const lines = [
    'spawn → ready (wall ms; cpu = CPU time charged to the instance cgroup until ready)',
    'runtime  variant  median ms   p99 ms   min ms   max ms  cpu median  n',
    '-------  -------  ---------  -------  -------  -------  ----------  --',
  ];
  for (const r of rows) {
    for (const [variant, d, c] of [['shim', r.shim, r.shimCpu], ['bare', r.bare, r.bareCpu]] as const) {
      lines.push(`${r.runtime.padEnd(7)}  ${variant.padEnd(7)}  ${f(d.medianMs)}    ${f(d.p99Ms)}  ${f(d.minMs)}  ${f(d.maxMs)}     ${f(c.medianMs)}  ${d.n}`);
    }
    lines.push(
      `${r.runtime.padEnd(7)}  shim − bare: median ${r.overheadMedianMs.toFixed(1)} ms, p99 ${r.overheadP99Ms.toFixed(1)} ms, cpu median ${r.overheadCpuMedianMs.toFixed(1)} ms`,
    );
  }
  return lines.join('\n');
}

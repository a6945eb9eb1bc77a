import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { loadManifest } from '../manifest/validate.js';
import type { FunctionManifest } from '../manifest/schema.js';
import type { Invocation, Invoker } from './invoker.js';
import type { SuiteEvent, SuiteFunction } from './types.js';

/** Debian's interpreter: the `python3` on PATH is a pyenv shim without numpy, Pillow, scikit-learn. */
export const PYTHON = '/usr/bin/python3';

/**
 * Runs a Python handler the way the runtime shim would, minus the socket: a long-lived process that
 * imports main.py once (so the second invocation is warm) and answers one JSON line per event.
 * The handler's own prints go to stderr so they cannot corrupt the replies on stdout.
 */
const HARNESS = String.raw`
import base64, importlib, json, os, sys, time, traceback
out = sys.stdout
sys.stdout = sys.stderr
sys.path.insert(0, os.getcwd())
module_name, func_name = os.environ["HIVELAB_HANDLER"].rsplit(".", 1)
handler = getattr(importlib.import_module(module_name), func_name)

class Context:
    def __init__(self, invocation_id, deadline):
        self.invocationId = self.invocation_id = invocation_id
        self.functionName = self.function_name = os.environ.get("HIVELAB_FUNCTION", "")
        self.instanceId = self.instance_id = "local"
        self.memoryLimitMB = self.memory_limit_mb = int(os.environ.get("HIVELAB_MEMORY_MB", "0"))
        self._deadline = deadline
    def get_remaining_time_ms(self):
        return max(0, int(self._deadline - time.time() * 1000))
    getRemainingTimeMs = get_remaining_time_ms

def encode(value):
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(value).decode()}
    return value

out.write(json.dumps({"ready": True}) + "\n"); out.flush()
for line in sys.stdin:
    req = json.loads(line)
    try:
        result = handler(req["event"], Context(req["invocationId"], req["deadline"]))
        reply = {"ok": True, "result": encode(result)}
    except Exception as e:
        reply = {"ok": False, "error": {"type": type(e).__name__, "message": str(e), "stack": traceback.format_exc()}}
    out.write(json.dumps(reply) + "\n"); out.flush()
`;

interface PythonInstance {
  child: ChildProcess;
  lines: AsyncIterator<string>;
  rl: Interface;
}

type NodeHandler = (event: unknown, context: unknown) => Promise<unknown>;

/** Invokes suite functions in this machine's runtimes, without sandbox or platform (tests, `--local`). */
export class LocalInvoker implements Invoker {
  readonly kind = 'local';
  private readonly manifests = new Map<string, FunctionManifest>();
  private readonly nodeHandlers = new Map<string, NodeHandler>();
  private readonly python = new Map<string, PythonInstance>();

  async prepare(fn: SuiteFunction): Promise<void> {
    this.manifests.set(fn.name, await loadManifest(fn.dir));
    this.nodeHandlers.delete(fn.name);
    await this.stopPython(fn.name);
  }

  async invoke(fn: SuiteFunction, event: SuiteEvent): Promise<Invocation> {
    if (fn.grpc) throw new Error(`${fn.name}: a gRPC function (a server program) runs on the platform only; the local invoker calls handlers`);
    const manifest = this.manifests.get(fn.name) ?? (await loadManifest(fn.dir));
    this.manifests.set(fn.name, manifest);
    if (!manifest.handler) throw new Error(`${fn.name}: the local invoker runs handlers; a server program ("command") needs the platform`);
    const handlerSpec = manifest.handler;
    const started = performance.now();
    if (manifest.runtime === 'node') {
      let handler = this.nodeHandlers.get(fn.name);
      const cold = handler === undefined;
      if (!handler) {
        // The manifest's env is what a handler reads at import time (e.g. auth's secret).
        Object.assign(process.env, manifest.env);
        const [file, name] = splitHandler(handlerSpec);
        const mod = (await import(pathToFileURL(join(fn.dir, `${file}.mjs`)).href)) as Record<string, unknown>;
        if (typeof mod[name] !== 'function') throw new Error(`${fn.name}: ${file}.mjs does not export ${name}`);
        handler = mod[name] as NodeHandler;
        this.nodeHandlers.set(fn.name, handler);
      }
      const deadline = Date.now() + manifest.timeoutMs;
      const context = {
        invocationId: randomUUID(),
        functionName: fn.name,
        instanceId: 'local',
        memoryLimitMB: manifest.memoryMB,
        getRemainingTimeMs: () => Math.max(0, deadline - Date.now()),
      };
      // Round-trip through JSON, as the shim does: the validators must see what a client would.
      const output = JSON.parse(JSON.stringify((await handler(event, context)) ?? null)) as unknown;
      return { output, ms: performance.now() - started, cold, instanceId: 'local' };
    }
    let inst = this.python.get(fn.name);
    const cold = inst === undefined;
    if (!inst) inst = await this.startPython(fn, manifest);
    inst.child.stdin!.write(`${JSON.stringify({ event, invocationId: randomUUID(), deadline: Date.now() + manifest.timeoutMs })}\n`);
    const next = await inst.lines.next();
    if (next.done) throw new Error(`${fn.name}: Python harness exited`);
    const reply = JSON.parse(next.value) as { ok: boolean; result?: unknown; error?: { type: string; message: string } };
    if (!reply.ok) throw new Error(`${fn.name}: ${reply.error?.type}: ${reply.error?.message}`);
    return { output: reply.result, ms: performance.now() - started, cold, instanceId: `local-${inst.child.pid}` };
  }

  /** VmRSS of the Python harness process; Node handlers share the caller's process, so: unknown. */
  async residentMB(fn: SuiteFunction): Promise<number | undefined> {
    const pid = this.python.get(fn.name)?.child.pid;
    if (!pid) return undefined;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.python.keys()].map((name) => this.stopPython(name)));
  }

  private async startPython(fn: SuiteFunction, manifest: FunctionManifest): Promise<PythonInstance> {
    const child = spawn(PYTHON, ['-u', '-c', HARNESS], {
      cwd: fn.dir,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        PYTHONDONTWRITEBYTECODE: '1',
        HIVELAB_HANDLER: manifest.handler ?? '',
        HIVELAB_FUNCTION: fn.name,
        HIVELAB_MEMORY_MB: String(manifest.memoryMB),
        ...manifest.env,
      },
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const rl = createInterface({ input: child.stdout! });
    const inst: PythonInstance = { child, rl, lines: rl[Symbol.asyncIterator]() };
    const first = await inst.lines.next();
    if (first.done) throw new Error(`${fn.name}: Python handler failed to load:\n${stderr}`);
    this.python.set(fn.name, inst);
    return inst;
  }

  private async stopPython(name: string): Promise<void> {
    const inst = this.python.get(name);
    if (!inst) return;
    this.python.delete(name);
    inst.rl.close();
    const exited = new Promise((r) => inst.child.once('exit', r));
    inst.child.stdin!.end();
    if (inst.child.exitCode === null) {
      const t = setTimeout(() => inst.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  }
}

function splitHandler(handler: string): [file: string, name: string] {
  const i = handler.lastIndexOf('.');
  return [handler.slice(0, i), handler.slice(i + 1)];
}

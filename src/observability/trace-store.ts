import { mkdir, readFile, appendFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpanRecord, TraceRecord, TraceSummary } from './span-record.js';
import { Attr, SpanNames } from './semantic.js';
import { spanTree } from './span-tree.js';

export interface TraceStoreOptions {
  /** Folder for `spans.jsonl`; omit for a memory-only store. */
  dir?: string;
  /** How many traces to keep; the oldest (by first span seen) go first. */
  maxTraces: number;
}

interface StoredTrace {
  spans: SpanRecord[];
  summary?: TraceSummary;
}

const FILE = 'spans.jsonl';

/**
 * The built-in trace exporter's storage: recent traces in memory, bounded, and appended to disk as
 * JSON lines so `hivelab trace` still finds them after a restart. The file is rewritten from memory
 * once evictions pile up, which keeps it within about twice the bound without a rotation scheme.
 */
export class TraceStore {
  private readonly traces = new Map<string, StoredTrace>();
  private readonly byInvocation = new Map<string, string>();
  private pending: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private flushTimer: NodeJS.Timeout | undefined;
  private evictedSinceCompaction = 0;
  private writeError: Error | undefined;

  private constructor(private readonly opts: TraceStoreOptions) {}

  static async open(opts: TraceStoreOptions): Promise<TraceStore> {
    if (!(opts.maxTraces >= 1)) throw new Error('TraceStore: maxTraces must be at least 1');
    const store = new TraceStore(opts);
    if (opts.dir) {
      await mkdir(opts.dir, { recursive: true });
      let text = '';
      try {
        text = await readFile(join(opts.dir, FILE), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      for (const line of text.split('\n')) {
        if (!line) continue;
        try {
          store.remember(JSON.parse(line) as SpanRecord);
        } catch {
          // A torn last line from a crash mid-append: the rest of the file is still good.
        }
      }
      if (store.evictedSinceCompaction > 0) store.scheduleCompaction();
      store.evictedSinceCompaction = 0;
    }
    return store;
  }

  /** Records one finished span; cheap and synchronous so a trace is queryable as soon as it ends. */
  add(span: SpanRecord): void {
    this.remember(span);
    if (!this.opts.dir) return;
    this.pending.push(JSON.stringify(span) + '\n');
    if (this.evictedSinceCompaction >= this.opts.maxTraces) {
      this.evictedSinceCompaction = 0;
      this.scheduleCompaction();
    } else if (!this.flushTimer) {
      // Batch appends: one write per burst of spans instead of one per span.
      this.flushTimer = setTimeout(() => void this.flush(), 50);
      this.flushTimer.unref();
    }
  }

  /** A trace by trace id or by the id of any invocation in it. */
  get(id: string): TraceRecord | undefined {
    const traceId = this.traces.has(id) ? id : this.byInvocation.get(id);
    if (!traceId) return undefined;
    const t = this.traces.get(traceId);
    if (!t) return undefined;
    return { traceId, summary: this.summaryOf(traceId, t), spans: spanTree(t.spans).map((r) => r.span) };
  }

  /** Most recent first; `fn` matches any function that took part in the trace. */
  list(query: { function?: string; last?: number } = {}): TraceSummary[] {
    const out: TraceSummary[] = [];
    const ids = [...this.traces.keys()];
    const last = query.last ?? 20;
    for (let i = ids.length - 1; i >= 0 && out.length < last; i--) {
      const id = ids[i]!;
      const s = this.summaryOf(id, this.traces.get(id)!);
      if (query.function && !s.functions.includes(query.function)) continue;
      out.push(s);
    }
    return out;
  }

  get size(): number {
    return this.traces.size;
  }

  /** Writes every pending span to disk; resolves when the file holds them. */
  async flush(): Promise<void> {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    const dir = this.opts.dir;
    if (dir && this.pending.length > 0) {
      const chunk = this.pending.join('');
      this.pending = [];
      this.enqueue(() => appendFile(join(dir, FILE), chunk));
    }
    await this.writing;
    if (this.writeError) {
      const err = this.writeError;
      this.writeError = undefined;
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private remember(span: SpanRecord): void {
    let t = this.traces.get(span.traceId);
    if (!t) {
      t = { spans: [] };
      this.traces.set(span.traceId, t);
      while (this.traces.size > this.opts.maxTraces) this.evictOldest();
    }
    // Keep spans sorted by start; spans mostly arrive in end order, so insert from the back.
    let i = t.spans.length;
    while (i > 0 && t.spans[i - 1]!.startMs > span.startMs) i--;
    t.spans.splice(i, 0, span);
    t.summary = undefined;
    const inv = span.attributes[Attr.invocationId];
    if (typeof inv === 'string') this.byInvocation.set(inv, span.traceId);
  }

  private evictOldest(): void {
    const [oldestId, oldest] = this.traces.entries().next().value as [string, StoredTrace];
    this.traces.delete(oldestId);
    for (const s of oldest.spans) {
      const inv = s.attributes[Attr.invocationId];
      if (typeof inv === 'string' && this.byInvocation.get(inv) === oldestId) this.byInvocation.delete(inv);
    }
    this.evictedSinceCompaction++;
  }

  private scheduleCompaction(): void {
    const dir = this.opts.dir;
    if (!dir) return;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
    }
    // Whatever is pending is also in memory, so the rewrite covers it.
    this.pending = [];
    const lines: string[] = [];
    for (const t of this.traces.values()) for (const s of t.spans) lines.push(JSON.stringify(s) + '\n');
    const file = join(dir, FILE);
    this.enqueue(async () => {
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, lines.join(''));
      await rename(tmp, file);
    });
  }

  private enqueue(op: () => Promise<void>): void {
    this.writing = this.writing.then(op).catch((err: Error) => {
      this.writeError = err;
    });
  }

  private summaryOf(traceId: string, t: StoredTrace): TraceSummary {
    if (t.summary) return t.summary;
    const ids = new Set(t.spans.map((s) => s.spanId));
    const invocationIds: string[] = [];
    const functions: string[] = [];
    let start = Infinity;
    let end = -Infinity;
    let error = false;
    let cold = false;
    let entryFunction: string | undefined;
    for (const s of t.spans) {
      start = Math.min(start, s.startMs);
      end = Math.max(end, s.startMs + s.durationMs);
      if (s.status === 'error') error = true;
      if (s.name === SpanNames.coldStart || s.attributes[Attr.cold] === true) cold = true;
      const inv = s.attributes[Attr.invocationId];
      const fn = s.attributes[Attr.function];
      if (typeof inv === 'string' && !invocationIds.includes(inv)) invocationIds.push(inv);
      if (typeof fn === 'string' && !functions.includes(fn)) functions.push(fn);
      // The entry is the first span whose parent is not in the trace (the root, or the first span
      // of a trace that began upstream of the platform).
      if (entryFunction === undefined && (!s.parentSpanId || !ids.has(s.parentSpanId)) && typeof fn === 'string') {
        entryFunction = fn;
      }
    }
    t.summary = {
      traceId,
      invocationIds,
      function: entryFunction ?? functions[0],
      functions,
      startMs: start,
      durationMs: end - start,
      spanCount: t.spans.length,
      error,
      cold,
    };
    return t.summary;
  }
}

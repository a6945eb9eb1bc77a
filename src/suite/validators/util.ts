/** Small helpers that let validators read untyped JSON output without a schema per function. */

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Collects problems; `check(cond, msg)` records msg when cond is false and returns cond. */
export class Problems {
  readonly list: string[] = [];
  check(cond: boolean, message: string): boolean {
    if (!cond) this.list.push(message);
    return cond;
  }
}

/** The output as an object, or a single problem saying it is not one. */
export function asObject(output: unknown, p: Problems): Json | undefined {
  return p.check(isObject(output), `output is not a JSON object: ${JSON.stringify(output)?.slice(0, 200)}`) ? (output as Json) : undefined;
}

/** Reads a numeric event parameter, falling back to the function's default. */
export function num(event: Json, key: string, def: number): number {
  const v = event[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : def;
}

/** Checks the `input` echo every suite function returns (functions/README.md, "Input control"). */
export function checkInputEcho(out: Json, event: Json, p: Problems): void {
  if (!p.check(isObject(out.input), 'output has no "input" description')) return;
  const input = out.input as Json;
  const mode = typeof event.inputMode === 'string' ? event.inputMode : 'same';
  p.check(input.mode === mode, `input.mode is ${JSON.stringify(input.mode)}, expected ${mode}`);
  p.check(Number.isInteger(input.index) && (input.index as number) >= 0, 'input.index is not a non-negative integer');
  if (mode === 'same' && event.index === undefined) p.check(input.index === 0, `"same" mode used variant ${String(input.index)}, expected 0`);
  if (mode === 'unique' && event.index === undefined) p.check(input.pooled === false, '"unique" mode used a pooled variant');
}

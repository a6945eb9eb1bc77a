import { TraceFormatError } from './errors.js';

/**
 * One row of the trace's CSV (no quoting occurs in the dataset), with error helpers that point at
 * the offending cell's 1-based character column.
 */
export class CsvRow {
  readonly cells: string[];
  private starts: number[] | undefined;

  constructor(
    readonly file: string,
    readonly line: number,
    readonly text: string,
  ) {
    this.cells = text.split(',');
  }

  /** 1-based character column where cell `i` starts; just past the row's end for a missing cell. */
  columnOf(i: number): number {
    if (i >= this.cells.length) return this.text.length + 1;
    if (!this.starts) {
      this.starts = [];
      let pos = 1;
      for (const c of this.cells) {
        this.starts.push(pos);
        pos += c.length + 1;
      }
    }
    return this.starts[i] ?? 1;
  }

  fail(i: number, problem: string): never {
    throw new TraceFormatError(this.file, this.line, this.columnOf(i), problem);
  }

  text_(i: number, name: string): string {
    const v = this.cells[i];
    if (v === undefined || v === '') this.fail(i, `${name}: empty`);
    return v;
  }

  /** A finite number ≥ 0 (the dataset has no negative values). */
  number(i: number, name: string): number {
    const v = this.cells[i];
    if (v === undefined || v.trim() === '') this.fail(i, `${name}: expected a number, found an empty cell`);
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) this.fail(i, `${name}: expected a non-negative number, found "${v}"`);
    return x;
  }

  /** A non-negative integer count. */
  count(i: number, name: string): number {
    const x = this.number(i, name);
    if (!Number.isInteger(x)) this.fail(i, `${name}: expected a whole count, found "${this.cells[i]}"`);
    return x;
  }
}

/** Maps header names to their indices, failing with the file and line 1 when a required one is missing. */
export function headerIndex(file: string, header: string, required: readonly string[]): Map<string, number> {
  const names = header.split(',').map((s) => s.trim());
  const idx = new Map<string, number>();
  names.forEach((n, i) => idx.set(n, i));
  for (const r of required) {
    if (!idx.has(r)) {
      throw new TraceFormatError(file, 1, 1, `header lacks column "${r}" (found: ${names.slice(0, 8).join(',')}${names.length > 8 ? ',…' : ''})`);
    }
  }
  return idx;
}

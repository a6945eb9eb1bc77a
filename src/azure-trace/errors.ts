/** A malformed trace file: the message starts with `file:line:column` so editors can jump to it. */
export class TraceFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${column}: ${problem}`);
    this.name = 'TraceFormatError';
  }
}

/**
 * A one-line progress bar on stderr (stdout stays clean for --json). Redrawn at most every 100 ms
 * so drawing never competes with sending; silent when stderr is not a terminal, unless forced.
 */
export class ProgressBar {
  private done = 0;
  private errors = 0;
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: { enabled?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? this.stream.isTTY === true;
  }

  private readonly stream: NodeJS.WriteStream;

  tick(ok: boolean): void {
    this.done++;
    if (!ok) this.errors++;
    const t = Date.now();
    if (this.done === this.total || t - this.lastDraw >= 100) {
      this.lastDraw = t;
      this.draw();
    }
  }

  private draw(): void {
    if (!this.enabled) return;
    const width = 30;
    const frac = this.total ? this.done / this.total : 1;
    const filled = Math.round(frac * width);
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total}${this.errors ? ` errors ${this.errors}` : ''}  `);
  }

  finish(): void {
    if (!this.enabled) return;
    this.draw();
    this.stream.write('\n');
  }
}

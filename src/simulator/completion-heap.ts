/** Min-heap of completion times on a growable Float64Array: no allocation per invocation. */
export class CompletionHeap {
  private a = new Float64Array(64);
  size = 0;

  clear(): void {
    this.size = 0;
  }

  /** Earliest completion time, Infinity when empty. */
  top(): number {
    return this.size > 0 ? this.a[0]! : Infinity;
  }

  push(t: number): void {
    if (this.size === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= t) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = t;
  }

  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const last = a[--this.size]!;
    const n = this.size;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1]! < a[c]!) c++;
      if (a[c]! >= last) break;
      a[i] = a[c]!;
      i = c;
    }
    if (n > 0) a[i] = last;
    return top;
  }
}

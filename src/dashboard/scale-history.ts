import type { ScalePoint } from './platform-view.js';

/**
 * A bounded per-function record of autoscaler ticks, for a `PlatformView.scaleHistory`. The
 * autoscaler ticks every couple of seconds, so the default keeps about the last ten minutes.
 * Unchanged ticks are folded into the previous point to keep long idle periods cheap, while the
 * last point's time still moves forward so the chart ends at "now".
 */
export class ScaleHistory {
  private readonly byFunction = new Map<string, ScalePoint[]>();

  constructor(private readonly maxPoints = 300) {}

  record(functionName: string, point: ScalePoint): void {
    let list = this.byFunction.get(functionName);
    if (!list) {
      list = [];
      this.byFunction.set(functionName, list);
    }
    const last = list[list.length - 1];
    const beforeLast = list[list.length - 2];
    const same = (a: ScalePoint | undefined) => a && a.desired === point.desired && a.actual === point.actual && a.panic === point.panic;
    if (same(last) && same(beforeLast)) {
      list[list.length - 1] = point;
      return;
    }
    list.push(point);
    if (list.length > this.maxPoints) list.splice(0, list.length - this.maxPoints);
  }

  points(functionName: string): ScalePoint[] {
    return this.byFunction.get(functionName)?.slice() ?? [];
  }

  forget(functionName: string): void {
    this.byFunction.delete(functionName);
  }
}

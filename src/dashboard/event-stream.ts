import type { ServerResponse } from 'node:http';

/**
 * Server-sent events to every open dashboard. Writes are fire-and-forget: a slow client whose
 * socket buffer fills is dropped rather than letting its backlog grow in our memory.
 */
export class EventStream {
  private readonly clients = new Set<ServerResponse>();

  constructor(private readonly maxBufferedBytes = 1 << 20) {}

  get size(): number {
    return this.clients.size;
  }

  open(res: ServerResponse, first?: { event: string; data: unknown }): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    if (first) this.sendTo(res, first.event, first.data);
  }

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = format(event, data);
    for (const res of this.clients) this.write(res, frame);
  }

  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private sendTo(res: ServerResponse, event: string, data: unknown): void {
    this.write(res, format(event, data));
  }

  private write(res: ServerResponse, frame: string): void {
    if (res.writableLength > this.maxBufferedBytes) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(frame);
  }
}

/** JSON.stringify never emits a raw newline, so one `data:` line per frame is enough. */
function format(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Forwards a pulled object to the SDK's Unix socket. HTTP/2 hands the object over in many small
 * pieces (one per socket read); writing each on its own costs a syscall and an event-loop turn on both
 * ends, and copying them into bigger buffers (the former Coalescer) costs a memcpy of the whole object
 * plus as much garbage. Instead the response is corked while pieces arrive and uncorked once per
 * event-loop turn, so everything that arrived in one turn leaves in one writev, without a copy.
 * Backpressure: the source pauses while the socket holds more than its highWaterMark.
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

export function forwardGathered(body: Readable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    let corked = false;
    const uncork = () => {
      corked = false;
      res.uncork();
    };
    const onData = (chunk: Buffer) => {
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(uncork);
      }
      if (!res.write(chunk)) body.pause();
    };
    const onDrain = () => body.resume();
    body.on('data', onData);
    res.on('drain', onDrain);
    body.once('end', () => {
      if (corked) uncork();
      res.end();
    });
    body.once('error', () => res.destroy());
    res.once('close', () => {
      body.off('data', onData);
      res.off('drain', onDrain);
      if (!body.readableEnded) body.destroy();
      resolve();
    });
  });
}

/** The activator's buffer: pinned invocations wait for their own instance; the rest go to anyone. */
import { describe, expect, it } from 'vitest';
import { RequestBuffer } from '../../src/activator/request-buffer.js';
import type { Invocation } from '../../src/queue-proxy/invocation.js';

const inv = (id: string): Invocation =>
  ({ id, functionName: 'f', body: Buffer.from(id), contentType: 'application/json', traceparent: undefined, deadline: Date.now() + 60_000 }) as Invocation;

describe('RequestBuffer pinning', () => {
  it('pins the oldest matching invocation; shift skips pinned ones; takePinned and unpin', async () => {
    const b = new RequestBuffer<string>('f', 10, 60_000);
    const waits = ['a', 'ref1', 'c', 'ref2'].map((id) => b.wait(inv(id)));
    const isRef = (i: Invocation) => i.id.startsWith('ref');
    expect(b.pin('X', isRef)?.inv.id).toBe('ref1');
    expect(b.pin('Y', isRef)?.inv.id).toBe('ref2');
    expect(b.pin('Z', isRef)).toBeUndefined(); // nothing left to pin
    expect(b.takePinned('Z')).toBeUndefined();

    // anyone's turn: the unpinned ones, oldest first, never a pinned one
    b.shift()!.release('W');
    expect(await waits[0]).toBe('W');
    const c = b.shift()!;
    expect(c.inv.id).toBe('c');
    c.release('W');
    expect(b.shift()).toBeUndefined();
    expect(b.length).toBe(2);

    b.takePinned('X')!.release('X');
    expect(await waits[1]).toBe('X');
    // Y will never serve (its start failed): its invocation waits for anyone again
    b.unpin('Y');
    expect(b.takePinned('Y')).toBeUndefined();
    b.shift()!.release('V');
    expect(await waits[3]).toBe('V');
    expect(b.length).toBe(0);
  });
});

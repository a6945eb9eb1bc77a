/**
 * The activator's buffer: pinned invocations wait for their own instance; the rest go to anyone.
 * And which events get pinned (reference events).
 */
import { describe, expect, it } from 'vitest';
import { RequestBuffer } from '../../src/activator/request-buffer.js';
import type { Invocation } from '../../src/core/invocation.js';
import { referenceEvent } from '../../src/transfer/reference-event.js';

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
    expect(b.takePinned((to) => to === 'Z')).toBeUndefined();

    // anyone's turn: the unpinned ones, oldest first, never a pinned one
    b.shift()!.release('W');
    expect(await waits[0]).toBe('W');
    const c = b.shift()!;
    expect(c.inv.id).toBe('c');
    c.release('W');
    expect(b.shift()).toBeUndefined();
    expect(b.length).toBe(2);

    expect(b.takePinned(() => false)).toBeUndefined(); // X and Y not ready yet
    b.takePinned((to) => to === 'X')!.release('X');
    expect(await waits[1]).toBe('X');
    // Y will never serve (its start failed): its invocation waits for anyone again
    b.unpin('Y');
    expect(b.takePinned(() => true)).toBeUndefined();
    b.shift()!.release('V');
    expect(await waits[3]).toBe('V');
    expect(b.length).toBe(0);
  });
});

describe('referenceEvent', () => {
  it('finds the reference in the events the sidecar writes, and nothing in other bodies', () => {
    const json = (v: unknown) => Buffer.from(JSON.stringify(v));
    expect(referenceEvent(json({ $xdt: 'hl1.abc' }), 'application/json')).toBe('hl1.abc');
    expect(referenceEvent(json({ $ref: 'hl1.def' }), undefined)).toBe('hl1.def');
    expect(referenceEvent(json({ $xdt: 'hl1.abc', more: 1 }), 'application/json')).toBeUndefined();
    expect(referenceEvent(json({ name: 'x' }), 'application/json')).toBeUndefined();
    expect(referenceEvent(json({ $xdt: 'hl1.abc' }), 'application/octet-stream')).toBeUndefined();
    expect(referenceEvent(Buffer.from('{"$xdt": broken'), 'application/json')).toBeUndefined();
  });
});

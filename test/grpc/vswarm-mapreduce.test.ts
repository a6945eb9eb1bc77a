import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join, resolve } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { startTestPlatform, removeState, type TestPlatform } from '../platform/harness.js';
import { greeterClient, unary } from './helpers.js';

const APP = resolve(import.meta.dirname, '../../examples/vswarm/mapreduce');

/**
 * A multi-function application over gRPC through the platform: the MapReduce of
 * examples/vswarm/mapreduce (driver → mappers in parallel → reducer, Python gRPC servers on vSwarm's
 * helloworld proto). A stock grpc-js client calls the driver through the gateway; the driver's own
 * gRPC client calls the other functions through its instance's egress socket (the sidecar adds the
 * token and forwards to the gateway's h2c), naming them by Knative's cluster-local host form.
 */
describe('a vSwarm-style MapReduce over gRPC calls between functions', () => {
  let t: TestPlatform;
  let client: grpc.Client;
  let auth: Record<string, string>;

  beforeAll(async () => {
    t = await startTestPlatform();
    auth = { authorization: `Bearer ${t.platform.tokens.invoke}` };
    for (const fn of ['mapper', 'reducer', 'driver']) {
      const r = await t.deploy(join(APP, fn));
      expect(r.status, r.body.toString()).toBe(201);
    }
    client = greeterClient(new URL(t.platform.url).host, 'mapreduce-driver.default.127.0.0.1.sslip.io:80', 'helloworld', 'Greeter');
  }, 200_000);
  afterAll(async () => {
    client?.close();
    await t?.stop();
    await removeState(t.stateDir);
  }, 200_000);

  it('counts the words of a text through driver, three mappers and the reducer', async () => {
    const text = ['the quick brown fox', 'jumps over the lazy dog', "the dog's day", 'fox and dog', 'The end'].join('\n');
    const expected: Record<string, number> = {};
    for (const w of text.toLowerCase().match(/[a-z']+/g)!) expected[w] = (expected[w] ?? 0) + 1;
    const r = await unary(client, 'SayHello', { name: text }, auth, 180_000);
    expect(r.err?.details, r.err?.message).toBeUndefined();
    expect(JSON.parse(r.reply!.message)).toEqual(expected);
    // Warm, again: the same answer, now without cold starts anywhere in the chain.
    const again = await unary(client, 'SayHello', { name: 'dog dog fox' }, auth, 60_000);
    expect(JSON.parse(again.reply!.message)).toEqual({ dog: 2, fox: 1 });
    expect(again.headers['x-hivelab-cold']).toBe('0');
    // Each function ran as its own instances behind the platform.
    const status = await t.api('GET', '/v1/functions');
    const names = (JSON.parse(status.body.toString()) as { functions: { name: string }[] }).functions.map((f) => f.name).sort();
    expect(names).toEqual(['mapreduce-driver', 'mapreduce-mapper', 'mapreduce-reducer']);
  }, 240_000);
});

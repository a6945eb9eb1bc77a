import { describe, expect, it } from 'vitest';
import { selectFunctions, sampleInput } from '../../src/suite/catalogue.js';
import { jpegSize } from '../../src/suite/jpeg.js';
import type { SuiteFunction } from '../../src/suite/types.js';
import { useSuiteInvoker } from './harness.js';

// The validators must reject the outputs real bugs would produce: each case takes a genuine output
// and breaks it the way a faulty function would.
const invoker = useSuiteInvoker();

type Out = Record<string, any>;
const prepared = new Set<string>();

async function realOutput(name: string, patch: Record<string, unknown> = {}): Promise<{ fn: SuiteFunction; event: Record<string, unknown>; out: Out }> {
  const fn = selectFunctions([name])[0]!;
  const event = { ...(await sampleInput(fn)), ...patch };
  if (!prepared.has(name)) {
    await invoker().prepare(fn);
    prepared.add(name);
  }
  const { output } = await invoker().invoke(fn, event);
  expect(await fn.validate(output, event)).toEqual([]);
  return { fn, event, out: output as Out };
}

async function rejects(fn: SuiteFunction, event: Record<string, unknown>, out: Out, mutate: (o: Out) => void): Promise<string[]> {
  const broken = structuredClone(out);
  mutate(broken);
  const problems = await fn.validate(broken, event);
  expect(problems.length).toBeGreaterThan(0);
  return problems;
}

describe('validators catch broken outputs', () => {
  it('aes: a ciphertext that is not AES under the returned key, or a failed round trip', async () => {
    for (const name of ['aes', 'pyaes']) {
      const { fn, event, out } = await realOutput(name);
      const problems = await rejects(fn, event, out, (o) => {
        const c = Buffer.from(o.ciphertextHead, 'base64');
        c[3] ^= 1;
        o.ciphertextHead = c.toString('base64');
      });
      expect(problems.join()).toMatch(/not AES-128-CTR/);
      await rejects(fn, event, out, (o) => (o.decryptedSha256 = o.ciphertextSha256));
      await rejects(fn, event, out, (o) => (o.keyHex = '00'.repeat(16)));
    }
  });

  it('aes: pure-JS and OpenSSL implementations agree', async () => {
    const js = await realOutput('aes', { impl: 'js' });
    const native = await realOutput('aes', { impl: 'node:crypto' });
    expect(js.out.ciphertextSha256).toBe(native.out.ciphertextSha256);
  });

  it('fibonacci: an off-by-one value', async () => {
    for (const name of ['fibonacci-node', 'fibonacci-python']) {
      const { fn, event, out } = await realOutput(name);
      await rejects(fn, event, out, (o) => (o.value = (BigInt(o.value) + 1n).toString()));
      await rejects(fn, event, out, (o) => (o.n += 1));
    }
  });

  it('auth: a flipped verdict, or a policy that ignores the token', async () => {
    for (const name of ['auth-node', 'auth-python']) {
      const { fn, event, out } = await realOutput(name);
      expect(out.policy).toBe('Allow');
      expect(new Set(out.results.map((r: Out) => r.reason))).toEqual(new Set(['ok', 'expired', 'bad-signature', 'malformed']));
      await rejects(fn, event, out, (o) => (o.results[2].valid = !o.results[2].valid));
      await rejects(fn, event, out, (o) => (o.policy = 'Deny'));
      // A token signed with another secret must be refused by the function itself.
      const forged = String(event.token).slice(0, -4) + 'AAAA';
      const { out: denied } = await realOutput(name, { token: forged });
      expect(denied.policy).toBe('Deny');
    }
  });

  it('chameleon: unescaped markup or a missing row', async () => {
    const { fn, event, out } = await realOutput('chameleon');
    await rejects(fn, event, out, (o) => (o.html = o.html.replace('&lt;b&gt;note&lt;/b&gt;', '<b>note</b>')));
    await rejects(fn, event, out, (o) => (o.html = o.html.replace(/<tr>[\s\S]*?<\/tr>\s*/, '')));
  });

  it('image-rotate: an unrotated image, or one turned the wrong way', async () => {
    for (const name of ['image-rotate-node', 'image-rotate-python']) {
      const { fn, event, out } = await realOutput(name);
      expect(jpegSize(Buffer.from(out.image, 'base64'))).toEqual({ width: 384, height: 512 });
      const { out: clockwise } = await realOutput(name, { angle: 270 });
      const problems = await rejects(fn, event, out, (o) => (o.image = clockwise.image));
      expect(problems.join()).toMatch(/marker/);
      await rejects(fn, event, out, (o) => ([o.rotatedWidth, o.rotatedHeight] = [o.width, o.height]));
      await rejects(fn, event, out, (o) => (o.image = Buffer.from('not a jpeg').toString('base64')));
    }
  });

  it('json-serdes: a truncated document or a lossy re-serialisation', async () => {
    for (const name of ['json-serdes-node', 'json-serdes-python']) {
      const { fn, event, out } = await realOutput(name);
      await rejects(fn, event, out, (o) => (o.bytesIn = 1000));
      await rejects(fn, event, out, (o) => (o.bytesOut -= 10));
    }
  });

  it('video: a colour video, or the wrong number of frames', async () => {
    const { fn, event, out } = await realOutput('video-processing', { returnVideo: true });
    await rejects(fn, event, out, (o) => Object.assign(o, { pixFmt: 'yuv420p', channels: 3 }));
    await rejects(fn, event, out, (o) => (o.maxChannelDelta = 40));
    await rejects(fn, event, out, (o) => (o.frames -= 1));
  });

  it('classifiers: a class outside the label set, or guessing', async () => {
    for (const name of ['lr-serving', 'cnn-serving']) {
      const { fn, event, out } = await realOutput(name, { n: 16 });
      await rejects(fn, event, out, (o) => (o.predictions[0].label = 'dog'));
      // A constant answer is right for at most half of the classes' examples.
      await rejects(fn, event, out, (o) => o.predictions.forEach((p: Out) => (p.label = o.labels[0])));
    }
    const { fn, event, out } = await realOutput('lr-training', { rows: 500 });
    await rejects(fn, event, out, (o) => (o.testAccuracy = 0.5));
  });

  it('rnn-serving: letter soup instead of learnt names', async () => {
    const { fn, event, out } = await realOutput('rnn-serving', { n: 20 });
    const soup = 'qxzvwpqjkx';
    await rejects(fn, event, out, (o) => (o.names = o.names.map((s: string) => s[0] + soup.slice(0, s.length - 1))));
    await rejects(fn, event, out, (o) => o.names.pop());
  });
});

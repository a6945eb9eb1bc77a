import { describe, expect, test } from 'vitest';
import { labelSettings, MANIFEST_LABEL } from '../../src/image/image-config.js';

// An image made by `hivelab build` carries its function.json in a label; `deploy --image` takes the
// run settings from it (below --manifest and flags). The label is as untrusted as the image.
describe("an image's manifest label", () => {
  test('gives the run settings only: what runs stays the image config\'s', () => {
    const m = { name: 'fib', runtime: 'python', protocol: 'grpc', memoryMB: 256, timeoutMs: 5000, command: ['/bin/sh', '-c', 'evil'], port: 1, handler: 'x.y', env: { LD_PRELOAD: '/x.so' }, scaling: { maxScale: 3 } };
    expect(labelSettings({ [MANIFEST_LABEL]: JSON.stringify(m) }, 'ref')).toEqual({ name: 'fib', protocol: 'grpc', memoryMB: 256, timeoutMs: 5000, scaling: { maxScale: 3 } });
  });

  test('an image without it gives nothing; a malformed one is an error naming the label', () => {
    expect(labelSettings(undefined, 'r')).toEqual({});
    expect(labelSettings({ other: 'x' }, 'r')).toEqual({});
    expect(() => labelSettings({ [MANIFEST_LABEL]: '{oops' }, 'img:1')).toThrow(/img:1: label dev\.hivelab\.function\.manifest is not JSON/);
    expect(() => labelSettings({ [MANIFEST_LABEL]: '[1]' }, 'img:1')).toThrow(/must hold a JSON object/);
  });
});

// The minimal function: its cold start is pure runtime start-up, the baseline for every other function.
import { pickInput, sizeParam } from './inputmode.mjs';

const NAMES = ['world', 'hivelab', 'vhive', 'reap'];

export async function handler(event, context) {
  const input = pickInput(event, context);
  const n = Math.floor(sizeParam(event, 'n', 1, 100_000));
  const name = typeof event?.name === 'string' ? event.name : input.pooled ? NAMES[input.index] : `guest-${input.seed}`;
  const message = Array.from({ length: n }, () => `Hello, ${name}!`).join('\n');
  return { message, name, n, runtime: 'node', input };
}

// vSwarm's fibonacci: CPU-only work whose cost grows with n (BigInt additions of ever longer numbers).
import { pickInput, sizeParam } from './inputmode.mjs';

export async function handler(event, context) {
  const input = pickInput(event, context);
  const base = Math.floor(sizeParam(event, 'n', 1000, 200_000));
  // Input variation shifts n a little: enough to change the numbers touched, not the cost class.
  const n = base + (input.pooled ? input.index : input.seed % 16);
  const method = event?.method ?? 'iterative';
  let value;
  if (method === 'recursive') {
    if (n > 32) throw new Error('recursive fibonacci is limited to n <= 32 (exponential time)');
    value = BigInt(fibRecursive(n));
  } else if (method === 'iterative') value = fibIterative(n);
  else throw new Error(`method must be "iterative" or "recursive", got ${JSON.stringify(method)}`);
  const digits = value.toString();
  return { n, method, value: digits, digits: digits.length, input };
}

function fibIterative(n) {
  let a = 0n, b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

// Deliberately naive: the vSwarm variant that stresses call overhead instead of bignum arithmetic.
function fibRecursive(n) {
  return n < 2 ? n : fibRecursive(n - 1) + fibRecursive(n - 2);
}

import { randomBytes } from 'node:crypto';

/** Short random id; 48 bits is plenty for ids that live for one platform run. */
export function shortId(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

export function newInvocationId(): string {
  return randomBytes(8).toString('hex');
}

export function newInstanceId(functionName: string): string {
  return `${functionName}-${shortId(4)}`;
}

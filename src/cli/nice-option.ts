import { UsageError } from './command.js';

/** The `--nice` option of the load-generating commands (bench, replay): see raiseClientPriority. */
export const niceOption = { nice: { type: 'string', default: '-10' } } as const;

export const niceUsage = `  --nice N           the client's scheduling priority, -20..19 (default -10, needs root; 0 leaves
                     it): on one machine the platform's cold starts would otherwise delay sends`;

/** The --nice value as an integer in [-20, 19]; anything else is a usage error. */
export function parseNice(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new UsageError(`--nice must be an integer from -20 to 19, got "${text}"`);
  return n;
}

import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isUsageError, parseCommandArgs, UsageError } from '../../src/cli/command.js';

describe('telling wrong usage from failed work', () => {
  it('takes usage errors and parseArgs errors for usage, anything else for a failure', async () => {
    expect(isUsageError(new UsageError('--iterations must be a number'))).toBe(true);
    let parseError: unknown;
    try {
      parseCommandArgs({ args: ['--nope'], options: {} });
    } catch (err) {
      parseError = err;
    }
    expect(isUsageError(parseError)).toBe(true);
    expect(isUsageError(Object.assign(new Error('bad option'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(true);
    // a child process's failure carries its exit status as a number in `code` (this crashed the CLI)
    const failed = await new Promise<unknown>((resolve) => execFile('/bin/false', (err) => resolve(err)));
    expect((failed as { code: unknown }).code).toBe(1);
    expect(isUsageError(failed)).toBe(false);
    expect(isUsageError(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe(false);
    expect(isUsageError(null)).toBe(false);
  });
});

/** The xdt-bench command's argument handling (the measurement itself needs a build: bench/xdt-ratios.mjs). */
import { expect, it } from 'vitest';
import command, { parseSize } from '../../src/cli/commands/xdt-bench.js';
import { UsageError } from '../../src/cli/command.js';

it('parses sizes with binary units', () => {
  expect(parseSize('10KB')).toBe(10 * 1024);
  expect(parseSize('1MB')).toBe(1024 * 1024);
  expect(parseSize('100MB')).toBe(100 * 1024 * 1024);
  expect(parseSize('0')).toBe(0);
  expect(() => parseSize('ten')).toThrow(UsageError);
});

it('rejects unknown patterns and transports before starting anything', async () => {
  await expect(command.run(['--patterns', 'zigzag'])).rejects.toBeInstanceOf(UsageError);
  await expect(command.run(['--transports', 'carrier-pigeon'])).rejects.toBeInstanceOf(UsageError);
  await expect(command.run(['--iterations', '0'])).rejects.toBeInstanceOf(UsageError);
  expect(await command.run(['--help'])).toBe(0);
});

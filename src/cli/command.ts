import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * A `hivelab` sub-command. Each lives in `src/cli/commands/<name>.ts` and default-exports one of
 * these; `hivelab <name>` loads it on demand, so a new command is one new file and start-up never
 * pays for the commands it does not run.
 */
export interface Command {
  /** One line for `hivelab --help`. */
  summary: string;
  /** Full usage text for `hivelab <name> --help`. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

/** A usage error: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Whether a command's failure is the user's wrong usage (exit code 2, with the usage) rather than a
 * failure of the work (exit code 1). `code` is not always a string: a child process's failure
 * carries its exit status there.
 */
export function isUsageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** `parseArgs` whose errors (unknown option, missing value) are usage errors, also when a command is run directly. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

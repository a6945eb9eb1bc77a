/**
 * An error that ends an invocation or API call with a specific HTTP status. `type` is a stable,
 * machine-readable name a researcher's scripts can match on; `message` says what went wrong.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  toJSON(): { error: Record<string, unknown> } {
    return { error: { type: this.type, message: this.message, ...this.extra } };
  }
}

export const notFound = (what: string) => new HttpError(404, 'NotFound', what);

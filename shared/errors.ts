// One base error with a stable string code; every module's typed errors extend it so the CLI
// can map any failure to a message, a code and an exit status in one place.
export class QzbError extends Error {
  readonly code: string;
  /** What the user can do about it, shown under the message. */
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QzbError';
    this.code = code;
    this.hint = options.hint;
  }
}

export function isQzbError(value: unknown): value is QzbError {
  return value instanceof QzbError;
}

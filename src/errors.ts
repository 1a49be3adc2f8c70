// Typed errors and warnings, each tied to a documented exit code (docs/exit-codes.md).

export const EXIT_OK = 0;
export const EXIT_USAGE = 2;
export const EXIT_BAD_INPUT = 3;
export const EXIT_IO = 4;
export const EXIT_INCOMPLETE_LIST = 5;

/** An expected failure: the CLI prints its message on one line, with no stack trace. */
export class SlimCoreError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

export class UsageError extends SlimCoreError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** The input is not a usable vmcore; the message names what and where. */
export class BadInputError extends SlimCoreError {
  constructor(message: string) {
    super(message, EXIT_BAD_INPUT);
  }
}

/** Reading the source or writing the sink failed. */
export class IoError extends SlimCoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, EXIT_IO, options);
  }
}

export function isSlimCoreError(err: unknown): err is SlimCoreError {
  return err instanceof SlimCoreError;
}

/** Warning codes are stable; --strict turns any of them into a BadInputError. */
export type WarningCode =
  | 'FAULT_OUTSIDE_SEGMENTS'
  | 'MCE_ADDRESS_NOT_USABLE'
  | 'MCE_CORRECTED'
  | 'MCE_COARSE_GRANULARITY'
  | 'BAD_PAGESIZE'
  | 'NOTE_SEGMENT_TRAILER'
  | 'SECTION_HEADERS_DROPPED'
  | 'EXTRA_NOTE_SEGMENT'
  | 'MCE_NOTE_MALFORMED'
  | 'KLOG'
  | 'PAGE_FILTER';

export interface Warning {
  code: WarningCode;
  message: string;
}

export type WarningHandler = (warning: Warning) => void;

/** Collects warnings, and throws instead when strict. */
export function makeWarner(onWarning: WarningHandler | undefined, strict: boolean): WarningHandler {
  return (warning) => {
    if (strict) throw new BadInputError(`${warning.message} (${warning.code}, fatal under --strict)`);
    onWarning?.(warning);
  };
}

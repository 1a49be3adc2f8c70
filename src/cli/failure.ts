// How a failed command ends: one line on stderr, a documented exit code, and with --json a JSON object as well.

import { isSlimCoreError } from '../errors.js';

export const EXIT_INTERNAL = 1;

/** The `result` values of `--json` (docs/exit-codes.md). */
export type JsonResult = 'ok' | 'ok-list-in-report' | 'error' | 'interrupted';

export interface Failure {
  message: string;
  exitCode: number;
}

export function describeFailure(err: unknown): Failure {
  if (isSlimCoreError(err)) return { message: err.message, exitCode: err.exitCode };
  return { message: `internal error: ${(err as Error).message}`, exitCode: EXIT_INTERNAL };
}

export function printDebugStack(err: unknown): void {
  if (!process.env.SLIMCORE_DEBUG) return;
  const shown = isSlimCoreError(err) ? ((err.cause as Error | undefined) ?? err) : (err as Error);
  process.stderr.write(`${shown?.stack ?? String(err)}\n`);
}

/** Prints the one line (and with `json` the object), then exits with the failure's code. */
export function exitWithFailure(failure: Failure, json: boolean, extra: Record<string, unknown> = {}): never {
  reportFailure(failure, json, extra);
  process.exit(failure.exitCode);
}

/** The one line, and with `json` the object; stderr on a pipe or file is written synchronously. */
export function reportFailure(failure: Failure, json: boolean, extra: Record<string, unknown> = {}): void {
  process.stderr.write(`slim-core: ${failure.message}\n`);
  if (json) {
    const result: JsonResult = extra.signal ? 'interrupted' : 'error';
    process.stderr.write(JSON.stringify({ result, exitCode: failure.exitCode, error: failure.message, ...extra }) + '\n');
  }
}

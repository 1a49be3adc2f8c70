#!/usr/bin/env node
// slim-core's command line: a thin yargs layer over the library; expected errors become one line and an exit code.

import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_USAGE, isSlimCoreError } from '../errors.js';
import { captureCommand } from './capture-command.js';
import { inspectCommand } from './inspect-command.js';
import { dmesgCommand } from './dmesg-command.js';
import { receiveCommand } from './receive-command.js';

const EXIT_INTERNAL = 1;

function fail(message: string, code: number): never {
  process.stderr.write(`slim-core: ${message}\n`);
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .scriptName('slim-core')
    .command(inspectCommand)
    .command(dmesgCommand)
    .command(receiveCommand)
    .command(captureCommand)
    .strict()
    .epilogue(
      'Exit codes: 0 done; 2 usage error; 3 input is not a usable vmcore; 4 I/O error on the source or the sink; 5 complete, but pages that failed to read are listed only in the report. See docs/exit-codes.md.',
    )
    .fail((message, err) => {
      if (err) throw err;
      fail(`${message} (see --help)`, EXIT_USAGE);
    })
    .help()
    .version();
  try {
    await cli.parseAsync();
  } catch (err) {
    if (isSlimCoreError(err)) {
      if (process.env.SLIMCORE_DEBUG) process.stderr.write(`${(err.cause as Error | undefined)?.stack ?? err.stack}\n`);
      fail(err.message, err.exitCode);
    }
    if (process.env.SLIMCORE_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    fail(`internal error: ${(err as Error).message}`, EXIT_INTERNAL);
  }
}

await main(hideBin(process.argv));

// slim-core's commands: a thin yargs layer over the library; expected errors become one line and an exit code.
// Each command's code loads only when it runs (import() in its handler), so --help loads the options and nothing more.

import yargs from 'yargs';
import { EXIT_USAGE } from '../errors.js';
import { captureCommand } from './capture-command.js';
import { inspectCommand } from './inspect-command.js';
import { dmesgCommand } from './dmesg-command.js';
import { receiveCommand } from './receive-command.js';
import { protectDashes, restoreDashes } from './format.js';
import { describeFailure, exitWithFailure, printDebugStack } from './failure.js';
import { slimCoreVersion } from '../version.js';

export async function runCommands(argv: string[]): Promise<void> {
  const cli = yargs(protectDashes(argv))
    .middleware(restoreDashes, true)
    .scriptName('slim-core')
    .command(inspectCommand)
    .command(dmesgCommand)
    .command(receiveCommand)
    .command(captureCommand)
    .strict()
    .epilogue(
      'Exit codes: 0 done; 2 usage error; 3 input is not a usable vmcore; 4 I/O error on the source or the sink; 5 complete, but pages that failed to read are listed only in the report; 128+N stopped by signal N (the temporary file removed). See docs/exit-codes.md.',
    )
    .fail((message, err) => {
      if (err) throw err;
      exitWithFailure({ message: `${message} (see --help)`, exitCode: EXIT_USAGE }, false);
    })
    .help()
    .version(slimCoreVersion());
  try {
    await cli.parseAsync();
  } catch (err) {
    printDebugStack(err);
    exitWithFailure(describeFailure(err), false);
  }
}

#!/usr/bin/env node
// slim-core's entry point: a lone --version is answered before yargs loads; everything else goes to the commands.

import { slimCoreVersion } from '../version.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && argv[0] === '--version') process.stdout.write(`${slimCoreVersion()}\n`);
else await (await import('./commands.js')).runCommands(argv);

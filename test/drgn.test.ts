// drgn, a reader nobody here wrote, on our slim and full outputs of the real dump: it sees a Linux kernel core and reads its memory.

import test from 'ava';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { realFixturePath, repoRoot } from './helpers/fixture.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const run = promisify(execFile);
const SCRIPT = path.join(repoRoot, 'test', 'helpers', 'drgn_read.py');
// The prb structure's page (kept in a slim dump) and the page the machine check named.
const LOG_PAGE = '0xb864000+0x1000';
const POISONED_PAGE = '0x345000+0x1000';
const NEXT_PAGE = '0x346000+0x1000';

async function drgnRead(file: string, ...ranges: string[]): Promise<{ flags: string; reads: Record<string, string>; exception?: string }> {
  const { stdout } = await run('/usr/bin/python3', [SCRIPT, file, ...ranges], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout);
}

test('drgn opens the slim and full dumps as Linux kernel cores, and reads kept, copied and zero-filled pages', async (t) => {
  const input = await realFixturePath();
  const dir = await tempDir(t, 'drgn');
  const slim = path.join(dir, 'slim.elf');
  const full = path.join(dir, 'full.elf');
  t.is((await runCli([input, '-o', slim, '-q'])).code, 0);
  t.is((await runCli([input, '-o', full, '-q', '--mode', 'full', '--no-sync'])).code, 0);
  const [original, fromSlim, fromFull] = await Promise.all([
    drgnRead(input, LOG_PAGE, POISONED_PAGE, NEXT_PAGE),
    drgnRead(slim, LOG_PAGE, POISONED_PAGE, NEXT_PAGE),
    drgnRead(full, LOG_PAGE, POISONED_PAGE, NEXT_PAGE),
  ]);
  for (const r of [original, fromSlim, fromFull]) {
    t.is(r.exception, undefined);
    t.regex(r.flags, /IS_LINUX_KERNEL/);
  }
  const zeroPage = '00'.repeat(0x1000);
  t.is(fromSlim.reads[LOG_PAGE], original.reads[LOG_PAGE], 'the slim dump keeps the log pages');
  t.is(fromSlim.reads[NEXT_PAGE], zeroPage, 'left-out memory reads as zeros (p_filesz 0, p_memsz kept)');
  t.is(fromFull.reads[POISONED_PAGE], zeroPage, 'the poisoned page is zero in the full dump');
  t.not(original.reads[POISONED_PAGE], zeroPage);
  t.is(fromFull.reads[NEXT_PAGE], original.reads[NEXT_PAGE]);
  t.is(fromFull.reads[LOG_PAGE], original.reads[LOG_PAGE]);
});

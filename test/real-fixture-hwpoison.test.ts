// The real hwpoison dump (Linux 6.1, a sysrq panic, no machine check in its log) through the CLI: records the user
// gives keep their origin and verdict from one capture to the next.

import test from 'ava';
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { realFixturePath } from './helpers/fixture.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

// Uncorrected, no PCC: from the user's records this is not fatal (docs/mce-rules.md, rule 8).
const USER_RECORD = '[{"status":"0xbc00000000100134","misc":"0x8c","addr":"0x345000","cpuvendor":"intel","bank":1}]';

function summary(stderr: string): { mode: string; cause: string } {
  const line = stderr.trim().split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`no --json summary in: ${stderr}`);
  return JSON.parse(line) as { mode: string; cause: string };
}

test('hwpoison fixture: auto mode writes a full dump, since the sysrq panic is no machine check', async (t) => {
  const input = await realFixturePath('hwpoison');
  const r = await runCli([input, '-o', '/dev/null', '--json', '-q']);
  t.is(r.code, 0, r.stderr);
  t.is(summary(r.stderr).mode, 'full');
});

test('hwpoison fixture: a user record judged not fatal stays not fatal in inspect and in a capture of the capture', async (t) => {
  const dir = await tempDir(t);
  const input = await realFixturePath('hwpoison');
  const faults = path.join(dir, 'rec.json');
  await writeFile(faults, USER_RECORD);
  const u1 = path.join(dir, 'u1.elf');
  const first = await runCli([input, '--faults', faults, '-o', u1, '--json', '-q', '--no-sync']);
  t.is(first.code, 0, first.stderr);
  t.is(summary(first.stderr).mode, 'full');

  const inspected = await runCli(['inspect', '--json', u1]);
  const report = JSON.parse(inspected.stdout.toString()) as { mce: { fatal: boolean; provenance: { origin: string; judgedFatal: boolean; crashOwn: boolean } | null }[] };
  t.deepEqual(report.mce.map((m) => [m.fatal, m.provenance]), [[false, { origin: 'user-records', judgedFatal: false, crashOwn: false }]]);

  const second = await runCli([u1, '-o', '/dev/null', '--json', '-q']);
  t.is(second.code, 0, second.stderr);
  t.is(summary(second.stderr).mode, 'full');
});

// The bundled sample with one descriptor corrupted: that record is lost, the machine check and the panic are not.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/fixture.js';

const run = promisify(execFile);
/** text_blk_lpos.next of the sixth record of samples/vmcore-6.1-sample.elf.gz, as a file offset (found with crash). */
const SIXTH_RECORD_NEXT = 1422544;

test('a zeroed text_blk_lpos.next loses one record; the dump still goes slim on the machine check, and dmesg agrees with vmcore-dmesg elsewhere', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'slimcore-klog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sample.elf');
  await writeFile(file, gunzipSync(await readFile(path.join(repoRoot, 'samples', 'vmcore-6.1-sample.elf.gz'))));
  const before = (await run('/usr/sbin/vmcore-dmesg', [file], { maxBuffer: 64 << 20 })).stdout.split('\n');
  const fh = await open(file, 'r+');
  await fh.write(Buffer.alloc(8), 0, 8, SIXTH_RECORD_NEXT);
  await fh.close();

  const out = path.join(dir, 'o.elf');
  const captured = await runCli([file, '-o', out, '--strict']);
  t.is(captured.code, 0, captured.stderr);
  t.regex(captured.stderr, /1 corrupt record\(s\) left out/);
  const inspected = await runCli(['inspect', out]);
  t.regex(inspected.stdout.toString(), /unrecoverable memory error: MCE bank 1/);

  // Ours is the intact log less that record, its fifth line (vmcore-dmesg prints bytes of another record in its place).
  const ours = (await runCli(['dmesg', file])).stdout.toString().split('\n');
  t.deepEqual(ours, [...before.slice(0, 4), ...before.slice(5)]);
  t.regex(ours.at(-2) ?? '', /Kernel panic - not syncing: Fatal machine check/);
});

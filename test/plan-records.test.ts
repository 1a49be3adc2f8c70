// What the plan makes of records and faults: warnings for records that leave pages at risk, overlapping reasons,
// a malformed input MCE note, and a cause that never promises what the sink cannot confirm.

import test from 'ava';
import path from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { capture } from '../src/pipeline/capture.js';
import { planCapture, type SourcedRecord } from '../src/pipeline/plan.js';
import { BadInputError, type Warning } from '../src/errors.js';
import { dataSegments } from '../src/dump/layout.js';
import { readDumpPrefix } from '../src/dump/prefix.js';
import { emptyMceRecord, type MceRecord } from '../src/mce/record.js';
import { NT_SLIMCORE_MCE, OmitReason, SLIMCORE_NOTE_NAME } from '../src/notes/slimcore-notes.js';
import { makeSyntheticVmcore, type SyntheticOptions } from './helpers/synthetic-vmcore.js';
import { bufferRangeReader } from './helpers/buffer-readers.js';
import { readBack } from './helpers/read-dump.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const SEGMENTS: SyntheticOptions = { segments: [{ paddr: 0x300000n, size: 0x100000 }] };

function userRecord(fields: Partial<MceRecord>): SourcedRecord {
  return { record: { ...emptyMceRecord(), bank: 1, ...fields }, origin: 'user-records', from: 'rec.json' };
}

async function captureWith(t: import('ava').ExecutionContext, opts: SyntheticOptions, extra: Partial<Parameters<typeof capture>[0]>) {
  const dir = await tempDir(t);
  const input = path.join(dir, 'in.elf');
  await writeFile(input, makeSyntheticVmcore(opts).bytes);
  const warnings: Warning[] = [];
  const out = path.join(dir, 'out.elf');
  const result = await capture({ input, output: out, sync: false, kernelLog: false, onWarning: (w) => warnings.push(w), ...extra });
  return { result, warnings, out, input, dir };
}

test('a granularity of 2^63 zero-fills nothing, warns MCE_COARSE_GRANULARITY, and --strict refuses', async (t) => {
  const record = userRecord({ status: 0xbc00000000100134n, misc: 0x80n | 63n, addr: 0x345000n });
  const { result, warnings, input, dir } = await captureWith(t, SEGMENTS, { mode: 'full', extraRecords: [record] });
  t.deepEqual(warnings.map((w) => w.code), ['MCE_COARSE_GRANULARITY']);
  t.is(result.plan.omitted.count, 0);
  await t.throwsAsync(capture({ input, output: path.join(dir, 'strict.elf'), mode: 'full', sync: false, kernelLog: false, strict: true, extraRecords: [record] }), {
    instanceOf: BadInputError,
    message: /granularity 2\^63 is coarser than 1 GiB.*MCE_COARSE_GRANULARITY, fatal under --strict/,
  });
});

test('an uncorrected record without a usable address warns MCE_ADDRESS_NOT_USABLE; a corrected user record warns MCE_CORRECTED', async (t) => {
  const linear = userRecord({ status: 0xbc00000000100134n, misc: 0x4cn, addr: 0x345000n });
  const corrected = userRecord({ status: 0x9c00000000000134n, misc: 0x8cn, addr: 0x346000n });
  const { warnings } = await captureWith(t, SEGMENTS, { mode: 'full', extraRecords: [linear, corrected] });
  t.deepEqual(warnings.map((w) => w.code), ['MCE_ADDRESS_NOT_USABLE', 'MCE_CORRECTED']);
  t.regex(warnings[0].message, /^MCE record from rec\.json \(bank 1, addr 0x345000\): uncorrected error without a usable address/);
});

test('overlapping faults: the MCE page inside a wider --fault range is listed as MCE, the rest as user-given', async (t) => {
  const mce = userRecord({ status: 0xbc00000000100134n, misc: 0x8cn, addr: 0x345000n });
  const { out } = await captureWith(t, SEGMENTS, { mode: 'full', extraRecords: [mce], userFaults: [{ paddr: 0x340000n, length: 0x10000n, origin: '--fault 0x340000+0x10000' }] });
  t.deepEqual((await readBack(out)).omitted?.entries.map((e) => [e.paddr, e.length, e.reason]), [
    [0x340000n, 0x5000n, OmitReason.USER],
    [0x345000n, 0x1000n, OmitReason.MCE],
    [0x346000n, 0xa000n, OmitReason.USER],
  ]);
});

test('a malformed input MCE note is a warning: kept byte for byte, the capture goes on, inspect reports it; --strict refuses', async (t) => {
  const bad = Buffer.from('0400000001000000deadbeef', 'hex'); // record_size 4
  const opts = { ...SEGMENTS, extraNotes: [{ name: SLIMCORE_NOTE_NAME, type: NT_SLIMCORE_MCE, desc: bad }] };
  const { result, warnings, out, input, dir } = await captureWith(t, opts, {});
  t.deepEqual(warnings.map((w) => w.code), ['MCE_NOTE_MALFORMED']);
  t.is(result.plan.mode, 'full');
  const kept = (await readDumpPrefix(bufferRangeReader(await readFile(out)))).notes.notes.filter((n) => n.type === NT_SLIMCORE_MCE);
  t.deepEqual(kept.map((n) => n.desc), [bad]);
  const inspected = await runCli(['inspect', input]);
  t.is(inspected.code, 0, inspected.stderr);
  t.regex(inspected.stdout.toString(), /Warning: SLIMCORE MCE note: record_size 4 at descriptor offset 0 is below the minimum of 88/);
  await t.throwsAsync(capture({ input, output: path.join(dir, 'strict.elf'), sync: false, kernelLog: false, strict: true }), { message: /MCE_NOTE_MALFORMED/ });
});

test('where read errors can only go to the report, the cause does not say "no pages were omitted"', async (t) => {
  const dump = makeSyntheticVmcore(SEGMENTS);
  const prefix = await readDumpPrefix(bufferRangeReader(dump.bytes));
  const plan = planCapture(prefix, dataSegments(prefix, dump.bytes.length), { mode: 'full', userFaults: [], extraRecords: [], omittedReserve: 0, readErrorsUnlisted: true, onWarning: () => undefined });
  t.is(plan.cause, 'full dump; no known faulty pages; pages that fail to read are listed only in the capture report');
  t.notRegex(plan.causeAfterCopy(3), /no pages were omitted/);
});

// Peak RSS of every command on the largest program header table slim-core accepts, and the refusal one entry past it.

import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MAX_PROGRAM_HEADERS } from '../src/dump/prefix.js';
import { writeManyLoadsInput } from './many-loads-input.js';
import { measureRun, shellQuote } from './measure.js';

const CLI = path.resolve('dist/src/cli/main.js');
const BUDGET_KIB = 128 * 1024;
// Section header 0's sh_info in the generator's ELF64 extended-numbering layout: the real program header count.
const SH0_INFO = 64 + 44;

const scenarios: { id: string; args: (input: string, out: string) => string; exit?: number }[] = [
  { id: 'full → FILE', args: (i, o) => `${i} --mode full --no-klog --no-sync -o ${o}` },
  { id: 'full → stdout', args: (i) => `${i} --mode full --no-klog -o -` },
  { id: 'slim → FILE', args: (i, o) => `${i} --mode slim --no-klog --no-sync -o ${o}` },
  { id: 'auto → FILE', args: (i, o) => `${i} --no-klog --no-sync -o ${o}` },
  { id: 'full -d 31 → FILE (one output PT_LOAD per input one)', args: (i, o) => `${i} --mode full -d 31 --no-klog --no-sync -o ${o}` },
  { id: '--format kdump --compress none → FILE', args: (i, o) => `${i} --mode full --format kdump --compress none --no-klog --no-sync -o ${o}` },
  { id: '--format kdump (zlib) → FILE', args: (i, o) => `${i} --mode full --format kdump --no-klog --no-sync -o ${o}` },
  { id: '--format kdump (zlib) → stdout (flattened)', args: (i) => `${i} --mode full --format kdump --no-klog -o -` },
  { id: 'inspect', args: (i) => `inspect ${i}` },
  { id: 'inspect --json', args: (i) => `inspect --json ${i}` },
  { id: 'dmesg (no log: exit 3 after the table is read)', args: (i) => `dmesg ${i}`, exit: 3 },
];

const work = await mkdtemp(path.join(process.argv[2] ?? os.tmpdir(), 'slimcore-phdr-'));
try {
  const loads = MAX_PROGRAM_HEADERS - 1; // plus the PT_NOTE
  const input = path.join(work, 'cap.elf');
  await writeManyLoadsInput(input, loads);
  // One entry past the cap: the same file with sh_info one higher; refused before the table is read.
  const over = path.join(work, 'over.elf');
  const head = Buffer.alloc(4096);
  const src = await open(input, 'r');
  await src.read(head, 0, head.length, 0);
  await src.close();
  head.writeUInt32LE(MAX_PROGRAM_HEADERS + 1, SH0_INFO);
  const dst = await open(over, 'w');
  await dst.write(head, 0, head.length, 0);
  await dst.close();
  const out = path.join(work, 'out');
  const rows: string[] = [];
  const all = [...scenarios.map((s) => ({ ...s, input, label: `${MAX_PROGRAM_HEADERS} program headers` })), { id: 'full → FILE', args: scenarios[0].args, exit: 3, input: over, label: `${MAX_PROGRAM_HEADERS + 1} (refused)` }];
  for (const s of all) {
    const r = await measureRun(
      {
        script: (time) => `${time(`node ${CLI} ${s.args(shellQuote(s.input), shellQuote(out))}`)} > /dev/null`,
        outputs: [out],
        allowedStatus: (_stage, code) => code === (s.exit ?? 0),
      },
      work,
      `run${rows.length}`,
      1800,
    );
    const rss = r.peakRssKiB / 1024;
    rows.push(`| ${s.label} | ${s.id} | ${r.seconds.toFixed(1)} | ${rss.toFixed(1)} | ${r.error ? `error: ${r.error}` : r.peakRssKiB <= BUDGET_KIB ? 'met' : 'NOT met'} |`);
    console.error(rows[rows.length - 1]);
  }
  console.log(`load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  console.log('| table | command | wall (s) | peak RSS (MiB) | ≤ 128 MiB |\n| --- | --- | ---: | ---: | --- |');
  console.log(rows.join('\n'));
} finally {
  await rm(work, { recursive: true, force: true });
}

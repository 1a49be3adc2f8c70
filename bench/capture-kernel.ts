// Times slim-core beside cat and makedumpfile on one real /proc/vmcore, in the capture kernel of the boot-to-dump guest.
// Usage: node --import=tsx bench/capture-kernel.ts [--crashkernel 256M] (builds or reuses the lab's images; one guest run).

import { loadavg } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bootToDump, guestLab } from '../test/helpers/qemu-guest.js';

interface Timing {
  name: string;
  seconds: number;
  peakKiB: number;
  bytes: number;
}

const LABELS: Record<string, string> = {
  'cat-null': '`cat /proc/vmcore > /dev/null`',
  'full-mmap-null': 'slim-core `--mode full --reader mmap > /dev/null`',
  'full-read-null': 'slim-core `--mode full --reader read > /dev/null`',
  'cat-file': '`cat /proc/vmcore > FILE`',
  'full-mmap-file': 'slim-core `--mode full --reader mmap -o FILE`',
  'full-read-file': 'slim-core `--mode full --reader read -o FILE`',
  'makedumpfile-E-d0': '`makedumpfile -E -d 0`',
  'full-d31-file': 'slim-core `--mode full -d 31 -o FILE`',
  'makedumpfile-E-d31': '`makedumpfile -E -d 31`',
  'slim-file': 'slim-core `--mode slim -o FILE`',
  'makedumpfile-dump-dmesg': '`makedumpfile --dump-dmesg`',
  'slimcore-dmesg': '`slim-core dmesg > FILE`',
};

/** Each SLIMLAB BENCH line of the serial log; a command run twice gets the median of its runs (here: the mean of two). */
function parseBench(serial: string): { timings: Map<string, Timing[]>; failed: string[] } {
  const timings = new Map<string, Timing[]>();
  const failed: string[] = [];
  for (const line of serial.split('\n')) {
    const ok = /SLIMLAB BENCH (\S+) ([\d.]+) (\d+) (\d+)\s*$/.exec(line);
    if (ok) {
      const t = { name: ok[1], seconds: Number(ok[2]), peakKiB: Number(ok[3]), bytes: Number(ok[4]) };
      timings.set(t.name, [...(timings.get(t.name) ?? []), t]);
    } else if (/SLIMLAB BENCH \S+ failed/.test(line)) failed.push(line.slice(line.indexOf('BENCH') + 6).trim());
  }
  return { timings, failed };
}

function middle(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a && b ? `${(a / b).toFixed(2)}×` : '-';
}

function report(timings: Map<string, Timing[]>): string {
  const sec = (name: string) => { const t = timings.get(name); return t ? middle(t.map((x) => x.seconds)) : undefined; };
  const baseline = (name: string) => (name.endsWith('-null') ? sec('cat-null') : sec('cat-file'));
  const rows = ['| what | seconds | × cat (same sink) | peak RSS | bytes |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const [name, runs] of timings) {
    const s = sec(name)!;
    const rss = Math.max(...runs.map((r) => r.peakKiB));
    const runsNote = runs.length > 1 ? ` (${runs.map((r) => r.seconds.toFixed(1)).join(', ')})` : '';
    rows.push(`| ${LABELS[name] ?? name} | ${s.toFixed(1)}${runsNote} | ${ratio(s, baseline(name))} | ${rss ? `${(rss / 1024).toFixed(1)} MiB` : '-'} | ${runs[0].bytes.toLocaleString('en-US')} |`);
  }
  const lines = [
    `- mmap against read(2), to /dev/null: ${ratio(sec('full-read-null'), sec('full-mmap-null'))} faster (read time / mmap time); mmap is ${ratio(sec('cat-null'), sec('full-mmap-null'))} cat's speed (target ≥ 0.90×)`,
    `- mmap against read(2), to a file: ${ratio(sec('full-read-file'), sec('full-mmap-file'))} faster; mmap is ${ratio(sec('cat-file'), sec('full-mmap-file'))} cat's speed`,
    `- full (mmap) against makedumpfile -E -d 0: ${ratio(sec('full-mmap-file'), sec('makedumpfile-E-d0'))} its time`,
    `- -d 31 against makedumpfile -E -d 31: ${ratio(sec('full-d31-file'), sec('makedumpfile-E-d31'))} its time`,
    `- slim against makedumpfile --dump-dmesg: ${ratio(sec('slim-file'), sec('makedumpfile-dump-dmesg'))} its time`,
  ];
  return [...rows, '', ...lines].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { crashkernel: { type: 'string', default: '256M' }, keep: { type: 'boolean', default: false } } });
  const lab = await guestLab();
  const dir = await mkdtemp(path.join('/tmp', 'slim-core-capture-bench-'));
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadBefore = load();
  const started = Date.now();
  // Slim for kdump-tools' own dump, so that the root disk has room for the benchmark's files.
  const r = await bootToDump(dir, { layout: 'rootfs', crash: 'sysrq', mode: 'slim', crashkernel: values.crashkernel!, bench: true, timeoutMs: 1_800_000 });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const { timings, failed } = parseBench(r.serial);
  const start = /SLIMLAB BENCH-START (.*)/.exec(r.serial)?.[1]?.trim() ?? '';
  console.log(`Debian ${lab.release}, 1 GiB guest, QEMU TCG, crashkernel=${values.crashkernel}, root-filesystem layout; ${new Date().toISOString().slice(0, 10)}`);
  console.log(`guest run ${minutes} min; host load average before ${loadBefore}, after ${load()}; capture kernel at the start: ${start}\n`);
  console.log(report(timings));
  for (const f of failed) console.log(`- FAILED: ${f}`);
  if (!r.serial.includes('SLIMLAB BENCH-END')) console.log('- the benchmark did not finish: see the serial log');
  if (values.keep) console.log(`\nserial log: ${path.join(dir, 'serial.log')}`);
  else await rm(dir, { recursive: true, force: true });
  if (failed.length || !timings.size) process.exitCode = 1;
}

await main();

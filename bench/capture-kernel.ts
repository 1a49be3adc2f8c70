// Times slim-core beside cat and makedumpfile on one real /proc/vmcore, in the capture kernel of the boot-to-dump guest.
// Usage: node --import=tsx bench/capture-kernel.ts [--crashkernel 256M] [--keep] [--from-serial LOG]: builds or reuses the lab's images, one guest run
// (30-40 min under TCG on a loaded 2-core host; under an hour is allowed).

import { loadavg } from 'node:os';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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

/** Each SLIMLAB BENCH line of the serial log, by command (the mmap and read(2) runs to /dev/null come twice). */
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

// What each command's time is set against, run in the same boot on the same /proc/vmcore.
const BASELINE: Record<string, string> = {
  'full-mmap-null': 'cat-null', 'full-read-null': 'cat-null', 'full-mmap-file': 'cat-file', 'full-read-file': 'cat-file',
  'makedumpfile-E-d0': 'cat-file', 'full-d31-file': 'makedumpfile-E-d31', 'slim-file': 'makedumpfile-dump-dmesg',
  'slimcore-dmesg': 'makedumpfile-dump-dmesg',
};

function ratio(a: number | undefined, b: number | undefined): string {
  return a && b ? `${(a / b).toFixed(2)}×` : '-';
}

function report(timings: Map<string, Timing[]>): string {
  // A command run twice counts with its faster run: the other jobs on the host only ever slow a run down.
  const sec = (name: string) => { const t = timings.get(name); return t ? Math.min(...t.map((x) => x.seconds)) : undefined; };
  const rows = ['| what | seconds | × the time of | peak RSS | bytes |', '| --- | ---: | --- | ---: | ---: |'];
  for (const [name, runs] of timings) {
    const rss = Math.max(...runs.map((r) => r.peakKiB));
    const runsNote = runs.length > 1 ? ` (runs: ${runs.map((r) => r.seconds.toFixed(1)).join(', ')})` : '';
    const base = BASELINE[name];
    rows.push(`| ${LABELS[name] ?? name} | ${sec(name)!.toFixed(1)}${runsNote} | ${base ? `${ratio(sec(name), sec(base))} ${LABELS[base]}` : ''} | ${rss >= 1024 ? `${(rss / 1024).toFixed(1)} MiB` : "-"} | ${runs[0].bytes.toLocaleString('en-US')} |`);
  }
  const lines = [
    `- mmap against read(2), to /dev/null: mmap at ${ratio(sec('full-read-null'), sec('full-mmap-null'))} read(2)'s speed and ${ratio(sec('cat-null'), sec('full-mmap-null'))} cat's (targets: ≥ 1× and ≥ 0.9×)`,
    `- mmap against read(2), to a file: mmap at ${ratio(sec('full-read-file'), sec('full-mmap-file'))} read(2)'s speed and ${ratio(sec('cat-file'), sec('full-mmap-file'))} cat's`,
    `- full (mmap) against makedumpfile -E -d 0: ${ratio(sec('full-mmap-file'), sec('makedumpfile-E-d0'))} its time`,
    `- -d 31 against makedumpfile -E -d 31: ${ratio(sec('full-d31-file'), sec('makedumpfile-E-d31'))} its time`,
    `- slim against makedumpfile --dump-dmesg: ${ratio(sec('slim-file'), sec('makedumpfile-dump-dmesg'))} its time`,
  ];
  return [...rows, '', ...lines].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { crashkernel: { type: 'string', default: '256M' }, keep: { type: 'boolean', default: false }, 'from-serial': { type: 'string' } } });
  if (values['from-serial']) {
    // Reports an earlier run again from its kept serial log, without booting the guest.
    console.log(report(parseBench(await readFile(values['from-serial'], 'latin1')).timings));
    return;
  }
  const lab = await guestLab();
  const dir = await mkdtemp(path.join('/tmp', 'slim-core-capture-bench-'));
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const loadBefore = load();
  const started = Date.now();
  // Slim for kdump-tools' own dump, so that the root disk has room for the benchmark's files.
  const r = await bootToDump(dir, { layout: 'rootfs', crash: 'sysrq', mode: 'slim', crashkernel: values.crashkernel!, bench: true, timeoutMs: 3_600_000 });
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

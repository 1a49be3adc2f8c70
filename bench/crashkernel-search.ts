// Bisects, in steps of 16M, the smallest crashkernel= with which the boot-to-dump guest (1 GiB) still dumps, per layout and mode.
// Usage: node --import=tsx bench/crashkernel-search.ts [--layout rootfs,initramfs] [--mode full,slim] [--low 64] [--high 256]
// --low is a size taken to fail and --high one taken to work (MiB); each is tried if the answer rests on it, unless
// --trust-bounds (for bounds measured before with the same build).

import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bootToDump, guestLab, type GuestRun } from '../test/helpers/qemu-guest.js';

const STEP = 16;

interface Probe {
  mib: number;
  ok: boolean;
  why: string;
  seconds: number;
}

/** What the serial log says went wrong, in a few words. */
function failureReason(serial: string, err: unknown): string {
  const known: [RegExp, string][] = [
    [/Initramfs unpacking failed: ([^\n]*)/, 'initramfs unpacking failed: $1'],
    [/Out of memory: Killed process \d+ \((\S+)\)/, 'OOM killer: $1'],
    [/SLIMLAB FAILED ([^\n]*)/, 'lab: $1'],
  ];
  const capture = serial.slice(Math.max(0, serial.indexOf('SLIMLAB LOADED')));
  for (const [re, text] of known) {
    const m = re.exec(capture);
    if (m) return text.replace('$1', m[1].trim());
  }
  const panics = [...capture.matchAll(/Kernel panic - not syncing: ([^\n]*)/g)].map((m) => m[1].trim());
  const last = panics.filter((p) => !p.startsWith('sysrq')).pop();
  if (last) return `capture kernel panic: ${last}`;
  return (err as Error).message.split('\n')[0].slice(0, 160);
}

async function probe(opts: Omit<GuestRun, 'crashkernel'>, mib: number): Promise<Probe> {
  const dir = await mkdtemp(path.join('/tmp', `slim-core-ck-${opts.layout}-${opts.mode}-`));
  const started = Date.now();
  let result: Pick<Probe, 'ok' | 'why'>;
  try {
    const r = await bootToDump(dir, { ...opts, crashkernel: `${mib}M`, timeoutMs: 600_000 });
    const ok = r.rc === 0 && r.summary.result === 'ok' && r.summary.mode === opts.mode;
    result = { ok, why: `rc ${r.rc}, ${r.summary.mode} dump of ${r.summary.bytes} bytes, peak RSS ${Math.round(r.hwmKiB / 1024)} MiB` };
  } catch (err) {
    const serialFile = path.join(dir, 'serial.log');
    const serial = existsSync(serialFile) ? await readFile(serialFile, 'latin1') : '';
    result = { ok: false, why: failureReason(serial, err) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const p = { mib, ...result, seconds: (Date.now() - started) / 1000 };
  console.log(`  crashkernel=${mib}M ${opts.layout} ${opts.mode}: ${p.ok ? 'works' : 'FAILS'} (${p.why}) in ${p.seconds.toFixed(0)} s, load ${loadavg()[0].toFixed(2)}`);
  return p;
}

/** The smallest working size on the 16M grid between low (taken to fail) and high (taken to work). */
async function search(opts: Omit<GuestRun, 'crashkernel'>, low: number, high: number, trustBounds: boolean): Promise<{ smallest?: number; probes: Probe[] }> {
  const probes: Probe[] = [];
  if (trustBounds) probes.push({ mib: low, ok: false, why: 'taken to fail (--trust-bounds)', seconds: 0 }, { mib: high, ok: true, why: 'taken to work (--trust-bounds)', seconds: 0 });
  const tried = (mib: number) => probes.find((p) => p.mib === mib);
  const run = async (mib: number) => tried(mib) ?? (probes.push(await probe(opts, mib)), probes[probes.length - 1]);
  let lo = low, hi = high;
  for (;;) {
    while (hi - lo > STEP) {
      const mid = lo + Math.ceil((hi - lo) / STEP / 2) * STEP;
      if ((await run(mid)).ok) hi = mid;
      else lo = mid;
    }
    // The answer rests on hi working and on lo failing: try whichever was only assumed.
    if (!(await run(hi)).ok) {
      if (hi >= 1024) return { probes };
      [lo, hi] = [hi, hi * 2];
      continue;
    }
    if (lo > 0 && (await run(lo)).ok) {
      [lo, hi] = [Math.max(0, lo - 4 * STEP), lo];
      continue;
    }
    return { smallest: hi, probes };
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      layout: { type: 'string', default: 'rootfs,initramfs' },
      mode: { type: 'string', default: 'full,slim' },
      low: { type: 'string', default: '64' },
      high: { type: 'string', default: '256' },
      'trust-bounds': { type: 'boolean', default: false },
    },
  });
  const lab = await guestLab();
  console.log(`Debian ${lab.release}, 1 GiB guest, QEMU TCG, sysrq crash; host load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const summary: string[] = [];
  for (const layout of values.layout!.split(',') as GuestRun['layout'][]) {
    for (const mode of values.mode!.split(',') as GuestRun['mode'][]) {
      const { smallest, probes } = await search({ layout, crash: 'sysrq', mode }, Number(values.low), Number(values.high), values['trust-bounds']!);
      const failing = probes.filter((p) => !p.ok && p.mib < (smallest ?? Infinity)).sort((a, b) => b.mib - a.mib)[0];
      summary.push(`| ${layout} | ${mode} | ${smallest ? `${smallest}M` : 'none found'} | ${failing ? `${failing.mib}M: ${failing.why}` : '-'} | ${probes.filter((p) => p.seconds).map((p) => `${p.mib}M ${p.ok ? 'ok' : 'fails'} ${p.seconds.toFixed(0)} s`).join(', ')} |`);
    }
  }
  console.log('\n| layout | mode | smallest crashkernel that dumps | 16M less | guest runs |\n| --- | --- | --- | --- | --- |');
  console.log(summary.join('\n'));
}

await main();

// Boots Debian's current kernel under QEMU, crashes it, and brings back what slim-core wrote in the capture kernel.

import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { runBounded } from './bounded-child.js';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
export const MCE_COMMAND = 'mce -b 0 1 0xbe00000000100134 0x5 0x345000 0x8c';

export function labCacheDir(): string {
  return process.env.SLIMCORE_QEMU_CACHE ?? '/var/cache/slim-core-qemu';
}

export interface Lab {
  dir: string;
  release: string;
}

let built: Promise<Lab> | undefined;

/** Builds (or finds in the cache) the kernel, initramfs images and root disk; fails naming what is missing. */
export function guestLab(): Promise<Lab> {
  built ??= (async () => {
    for (const tool of ['qemu-system-x86_64', 'mksquashfs', 'cpio', 'depmod', 'mkfs.ext4', 'debugfs']) {
      await run('bash', ['-c', `command -v ${tool}`]).catch(() => {
        throw new Error(`${tool} is not installed: run scripts/apt-deps.sh`);
      });
    }
    if (!existsSync(path.join(REPO, 'dist/bin/slim-core.js'))) throw new Error('dist/ is missing: run npm run build');
    const { stdout } = await runBounded('bash', [path.join(REPO, 'test/kdump-lab/build.sh'), labCacheDir(), REPO], { timeoutMs: 1_200_000 });
    const dir = stdout.trim().split('\n').pop()!;
    return { dir, release: readFileSync(path.join(dir, 'release'), 'utf8').trim() };
  })();
  return built;
}

export interface GuestRun {
  layout: 'initramfs' | 'rootfs';
  crash: 'sysrq' | 'mce';
  mode: 'auto' | 'slim' | 'full';
  crashkernel: string;
  bench?: boolean;
  /** The guest is killed after this long (15 minutes unless told). */
  timeoutMs?: number;
}

export interface GuestResult {
  serial: string;
  /** The exit status of slim-core in the capture kernel, its peak RSS and its --json summary. */
  rc: number;
  hwmKiB: number;
  summary: { result: string; mode: string; bytes: number; cause?: string };
  /** Files written in the capture kernel: the dump, and with the root-filesystem layout kdump-tools' dmesg file. */
  dump: string;
  dmesg?: string;
  stampDir?: string;
}

function accel(): string[] {
  const modules = existsSync('/proc/modules') ? readFileSync('/proc/modules', 'utf8') : '';
  // A nested /dev/kvm without kvm_intel or kvm_amd hangs an unmodified kernel: TCG there.
  return /^kvm_(intel|amd) /m.test(modules) && existsSync('/dev/kvm') ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'Skylake-Client-v1'];
}

/** Sends one HMP command on QEMU's monitor socket. */
async function monitor(socket: string, command: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect(socket);
    s.on('error', reject);
    s.on('connect', () => s.write(`${command}\n`, () => setTimeout(() => { s.end(); resolve(); }, 1000)));
  });
}

async function waitFor(file: string, marker: string, child: { exitCode: number | null }, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = existsSync(file) ? await readFile(file, 'latin1') : '';
    if (text.includes(marker)) return text;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the guest never printed "${marker}"; serial log:\n${tail(file)}`);
}

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'latin1').split('\n').slice(-40).join('\n') : '(none)';
}

/** One boot: first kernel, crash, capture kernel, slim-core; the dump comes back as a file in dir. */
export async function bootToDump(dir: string, opts: GuestRun): Promise<GuestResult> {
  const lab = await guestLab();
  const serial = path.join(dir, 'serial.log');
  const socket = path.join(dir, 'mon.sock');
  const disk = path.join(dir, opts.layout === 'rootfs' ? 'root.ext4' : 'out.raw');
  if (opts.layout === 'rootfs') await run('cp', ['--sparse=always', path.join(lab.dir, 'root.ext4'), disk]);
  else await writeFile(disk, ''), await truncate(disk, 1200 << 20);
  const append = `console=ttyS0 crashkernel=${opts.crashkernel} panic=5 slimlab.layout=${opts.layout} slimlab.crash=${opts.crash} slimlab.mode=${opts.mode} slimlab.bench=${opts.bench ? 1 : 0}`;
  const args = [...accel(), '-machine', 'pc', '-smp', '1', '-m', '1G', '-display', 'none', '-nodefaults', '-no-reboot',
    '-serial', `file:${serial}`, '-monitor', `unix:${socket},server=on,wait=off`,
    '-kernel', path.join(lab.dir, 'vmlinuz'), '-initrd', path.join(lab.dir, 'first.img'), '-append', append,
    '-drive', `file=${disk},format=raw,if=none,id=d0,cache=unsafe`, '-device', 'virtio-blk-pci,drive=d0', '-device', 'vmcoreinfo'];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 900_000);
  try {
    if (opts.crash === 'mce') {
      await waitFor(serial, 'SLIMLAB IDLE', child, 600_000);
      // Let the guest go idle in its sleep loop, so the machine check lands in a halted CPU as on a quiet server.
      await new Promise((r) => setTimeout(r, 3000));
      await monitor(socket, MCE_COMMAND);
    }
    await exited;
  } finally {
    clearTimeout(killer);
    child.kill('SIGKILL');
  }
  const text = existsSync(serial) ? await readFile(serial, 'latin1') : '';
  const line = text.split('\n').find((l) => l.includes('SLIMLAB RESULT'));
  if (!line) throw new Error(`no result from the capture kernel (qemu: ${stderr.split('\n').filter((l) => !l.includes("TCG doesn't support")).join(' ').trim() || 'exited'}); serial log:\n${tail(serial)}`);
  const m = /rc=(\d+) hwm_kb=(\d+) (.*)$/.exec(line.trim());
  if (!m) throw new Error(`no summary from slim-core in the capture kernel: ${text.slice(text.indexOf("SLIMLAB RESULT")).slice(0, 4000)}`);
  let summary: GuestResult['summary'];
  try {
    summary = JSON.parse(m[3]);
  } catch {
    throw new Error(`slim-core failed in the capture kernel (rc ${m[1]}):\n${text.slice(text.indexOf('SLIMLAB RESULT'))}`);
  }
  const result: GuestResult = { serial: text, rc: Number(m[1]), hwmKiB: Number(m[2]), summary, dump: path.join(dir, 'dump.elf') };
  if (opts.layout === 'initramfs') {
    await truncate(disk, summary.bytes);
    await run('mv', [disk, result.dump]);
  } else {
    Object.assign(result, await extractCrashDir(disk, dir));
  }
  return result;
}

/** Copies kdump-tools' STAMP directory out of the ext4 image with debugfs (no loop device, no mount). */
async function extractCrashDir(image: string, dir: string): Promise<Partial<GuestResult>> {
  const ls = (await run('debugfs', ['-R', 'ls -p /var/crash', image], { maxBuffer: 1 << 20 })).stdout;
  const stamps = ls.split('\n').map((l) => l.split('/')[5]).filter((n) => n && /^\d{12}$/.test(n));
  if (stamps.length !== 1) throw new Error(`/var/crash on the root disk holds ${stamps.length} stamp directories: ${ls}`);
  const stamp = stamps[0];
  const files = (await run('debugfs', ['-R', `ls -p /var/crash/${stamp}`, image])).stdout.split('\n').map((l) => l.split('/')[5]).filter(Boolean);
  const out: Partial<GuestResult> = { stampDir: `/var/crash/${stamp}: ${files.filter((f) => f !== '.' && f !== '..').sort().join(' ')}` };
  for (const [name, key] of [[`dump.${stamp}`, 'dump'], [`dmesg.${stamp}`, 'dmesg']] as const) {
    if (!files.includes(name)) continue;
    const target = path.join(dir, name);
    await run('debugfs', ['-R', `dump /var/crash/${stamp}/${name} ${target}`, image]);
    out[key] = target;
  }
  await run('rm', ['-f', image]);
  return out;
}

// Fetches the debug vmlinux that matches the real fixture (Debian's linux-image-6.1.0-56-amd64-dbg), once, into a cache outside the repo.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DBG_PACKAGE = 'linux-image-6.1.0-56-amd64-dbg';
const VMLINUX_IN_PACKAGE = './usr/lib/debug/boot/vmlinux-6.1.0-56-amd64';

export function vmlinuxCacheDir(): string {
  return process.env.SLIMCORE_VMLINUX_CACHE ?? '/var/cache/slim-core-vmlinux';
}

let found: Promise<string> | undefined;

/** The vmlinux path; downloads the 858 MB package and extracts only the vmlinux on first use. Fails naming the package. */
export function fixtureVmlinux(): Promise<string> {
  found ??= fetchVmlinux().catch((err: unknown) => {
    found = undefined;
    throw err;
  });
  return found;
}

async function fetchVmlinux(): Promise<string> {
  const dir = vmlinuxCacheDir();
  const target = path.join(dir, path.basename(VMLINUX_IN_PACKAGE));
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const download = () => run('apt-get', ['download', DBG_PACKAGE], { cwd: dir, maxBuffer: 16 << 20 });
  try {
    await download().catch(async () => {
      await run('apt-get', ['update', '-qq'], { maxBuffer: 16 << 20 });
      await download();
    });
  } catch (err) {
    throw new Error(`cannot download the Debian package ${DBG_PACKAGE} (the vmlinux for the real fixture): ${(err as Error).message.split('\n')[0]}. If it is no longer served, remake the fixture with a kernel that is.`);
  }
  const deb = (await readdir(dir)).find((f) => f.startsWith(`${DBG_PACKAGE}_`) && f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${DBG_PACKAGE} left no .deb in ${dir}`);
  const work = await import('node:fs/promises').then((fs) => fs.mkdtemp(path.join(dir, 'extract-')));
  try {
    await run('bash', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"', 'bash', path.join(dir, deb), work, VMLINUX_IN_PACKAGE], { maxBuffer: 16 << 20 });
    await rename(path.join(work, VMLINUX_IN_PACKAGE), target);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(path.join(dir, deb), { force: true });
  }
  return target;
}

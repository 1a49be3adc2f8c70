// Fetches the debug vmlinux of a Debian kernel release (linux-image-RELEASE-dbg), once, into a cache outside the repo.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { runBounded } from './bounded-child.js';

/** The kernel the real fixtures were made with. */
export const FIXTURE_RELEASE = '6.1.0-56-amd64';

export function vmlinuxCacheDir(): string {
  return process.env.SLIMCORE_VMLINUX_CACHE ?? '/var/cache/slim-core-vmlinux';
}

/** An 858 MB package: minutes on a slow mirror, and a stalled one fails the test instead of holding the suite. */
const DOWNLOAD_TIMEOUT_MS = 20 * 60_000;

const found = new Map<string, Promise<string>>();

/** The vmlinux path of RELEASE; downloads the 858 MB package and extracts only the vmlinux on first use. Fails naming the package. */
export function debugVmlinux(release: string): Promise<string> {
  let p = found.get(release);
  if (!p) {
    p = fetchVmlinux(release).catch((err: unknown) => {
      found.delete(release);
      throw err;
    });
    found.set(release, p);
  }
  return p;
}

/** The vmlinux that matches the real fixtures. */
export function fixtureVmlinux(): Promise<string> {
  return debugVmlinux(FIXTURE_RELEASE);
}

async function fetchVmlinux(release: string): Promise<string> {
  const pkg = `linux-image-${release}-dbg`;
  const inPackage = `./usr/lib/debug/boot/vmlinux-${release}`;
  const dir = vmlinuxCacheDir();
  const target = path.join(dir, path.basename(inPackage));
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(path.join(dir, 'extract-'));
  try {
    const download = () => runBounded('apt-get', ['download', pkg], { cwd: work, timeoutMs: DOWNLOAD_TIMEOUT_MS });
    try {
      await download().catch(async () => {
        await runBounded('apt-get', ['update', '-qq'], { timeoutMs: DOWNLOAD_TIMEOUT_MS });
        await download();
      });
    } catch (err) {
      throw new Error(`cannot download the Debian package ${pkg} (the vmlinux crash needs for ${release}): ${(err as Error).message.split('\n')[0]}. If it is no longer served, use a kernel that is.`);
    }
    const deb = (await readdir(work)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${work}`);
    await runBounded('bash', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"', 'bash', path.join(work, deb), work, inPackage]);
    await rename(path.join(work, inPackage), target);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return target;
}
